"""The one place a trial meets Ray Tune: checkpoints, reports, and the result row.

Ray 2.60: report with ``ray.tune.report`` (``ray.train.report`` fails inside Tune).
Each evaluation reports metrics with a checkpoint of the training state, so a retried
trial resumes where it was; the last report carries the finished row and the per-image
scores to the driver, whose callback is the only writer of result files.
"""
from __future__ import annotations

import datetime as dt
import socket
import tempfile
from pathlib import Path
from typing import Any

import torch
from ray import tune

from trainables.config import TrialConfig
from trainables.trial import run_trial

_SCALARS = ("step", "image_auc", "val_auc", "loss", "train_seconds", "eval_seconds", "images_per_second")


def provenance() -> dict[str, str]:
    import subprocess

    import ray
    try:
        code = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                              cwd=Path(__file__).parent, timeout=5).stdout.strip() or "unknown"
    except Exception:
        code = "unknown"
    return {"code_version": code, "torch_version": torch.__version__, "ray_version": ray.__version__}


def trainable(config: dict[str, Any]) -> None:
    import ray
    spec = config["trial"]
    cfg = TrialConfig.from_dict(spec["config"])
    cpus = int(spec.get("cpus", 1)) or 1
    cfg = cfg.replace(threads=cfg.threads or cpus)
    state = None
    ckpt = tune.get_checkpoint()
    if ckpt is not None:
        with ckpt.as_directory() as d:
            state = torch.load(Path(d) / "state.pt", weights_only=True)
    started = dt.datetime.now(dt.timezone.utc)

    def report(metrics: dict[str, Any], train_state: dict[str, Any] | None) -> None:
        scalars = {k: metrics[k] for k in _SCALARS if metrics.get(k) is not None}
        with tempfile.TemporaryDirectory() as d:
            torch.save(train_state, Path(d) / "state.pt")
            tune.report(scalars, checkpoint=tune.Checkpoint.from_directory(d))

    result = run_trial(cfg, data_root=spec["data_root"], report=report, initial_state=state)
    m = result.metrics
    row = {
        "trial_key": spec["trial_key"], "study": spec["study"],
        "variant": cfg.variant, "category": cfg.category, "seed": cfg.seed, "dataset": m["dataset"],
        **{k: v for k, v in cfg.to_dict().items() if k not in ("variant", "category", "seed")},
        "image_auc": m["image_auc"], "pixel_auc": m.get("pixel_auc"), "val_auc": m.get("val_auc"),
        "auc_by_defect": m["auc_by_defect"], "status": "ok", "error": None,
        "train_seconds": m["train_seconds"], "eval_seconds": m["eval_seconds"],
        "images_per_second": m["images_per_second"],
        "train_score_mean": m["train_score_mean"], "train_score_std": m["train_score_std"],
        "device": m["device"], "node_id": ray.get_runtime_context().get_node_id(),
        "hostname": socket.gethostname(), "started_at": started,
        "finished_at": dt.datetime.now(dt.timezone.utc), **provenance(),
    }
    tune.report({"image_auc": m["image_auc"], "final": True, "row": row, "scores": result.scores})
