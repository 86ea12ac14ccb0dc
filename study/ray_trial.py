"""The one place a trial meets Ray Tune: checkpoints, reports, and the result row.

Ray 2.60: report with ``ray.tune.report`` (``ray.train.report`` fails inside Tune).
Each evaluation reports metrics with a checkpoint of the training state, so a retried
trial resumes where it was; the last report carries the finished row and the per-image
scores and learning curve (``history``) to the driver, whose callback is the only writer
of result files.
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

_SCALARS = ("step", "image_auc", "pixel_auc", "val_auc", "loss", "train_seconds", "eval_seconds", "images_per_second")


def provenance() -> dict[str, str]:
    import subprocess

    import ray
    try:
        code = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                              cwd=Path(__file__).parent, timeout=5).stdout.strip() or "unknown"
    except Exception:
        code = "unknown"
    return {"code_version": code, "torch_version": torch.__version__, "ray_version": ray.__version__}


def make_row(spec: dict[str, Any], cfg: TrialConfig, key: str, metrics: dict[str, Any], status: str,
             started: dt.datetime, restored_from_step: int | None = None) -> dict[str, Any]:
    """One results row (DESIGN.md's columns) from a trial's config and latest metrics."""
    import ray
    return {
        "trial_key": key, "study": spec["study"],
        "variant": cfg.variant, "category": cfg.category, "seed": cfg.seed,
        "dataset": metrics.get("dataset") or spec.get("dataset"), "budget": spec.get("budget"),
        **{k: v for k, v in cfg.to_dict().items() if k not in ("variant", "category", "seed")},
        "image_auc": metrics.get("image_auc"), "pixel_auc": metrics.get("pixel_auc"),
        "val_auc": metrics.get("val_auc"), "val_defects": metrics.get("val_defects"),
        "auc_by_defect": metrics.get("auc_by_defect"), "status": status, "error": None,
        "train_seconds": metrics.get("train_seconds"), "eval_seconds": metrics.get("eval_seconds"),
        "images_per_second": metrics.get("images_per_second"),
        "train_score_mean": metrics.get("train_score_mean"), "train_score_std": metrics.get("train_score_std"),
        "null_score_mean": metrics.get("null_score_mean"), "null_score_std": metrics.get("null_score_std"),
        "null_score_method": metrics.get("null_score_method"),
        "device": metrics.get("device"), "node_id": ray.get_runtime_context().get_node_id() if ray.is_initialized() else None,
        "hostname": socket.gethostname(), "started_at": started,
        "finished_at": dt.datetime.now(dt.timezone.utc), "restored_from_step": restored_from_step,
        **provenance(),
    }


def resolve(config: dict[str, Any]) -> tuple[dict[str, Any], TrialConfig, str]:
    """The trial's fixed spec, its config with any searcher-sampled values, and its key."""
    from study.spec import trial_key
    spec = config["trial"]
    sampled = {k: v for k, v in config.items() if k != "trial"}
    cfg = TrialConfig.from_dict({**spec["config"], **sampled}, where=f"study {spec['study']}")
    key = spec.get("trial_key") if not sampled else trial_key(spec["study"], cfg.to_dict())
    return spec, cfg, key


def trainable(config: dict[str, Any]) -> None:
    spec, cfg, key = resolve(config)
    cpus = int(spec.get("cpus", 1)) or 1
    cfg = cfg.replace(threads=cfg.threads or cpus)
    state = None
    ckpt = tune.get_checkpoint()
    if ckpt is not None:
        with ckpt.as_directory() as d:
            state = torch.load(Path(d) / "state.pt", weights_only=True)
    started = dt.datetime.now(dt.timezone.utc)
    restored = int(state["step"]) if state is not None else None   # a retry after a lost node or a crash

    def report(metrics: dict[str, Any], train_state: dict[str, Any] | None) -> None:
        scalars = {k: metrics[k] for k in _SCALARS if metrics.get(k) is not None}
        # a row as of now: written as "stopped" if a scheduler ends the trial here
        scalars["row"] = make_row(spec, cfg, key, metrics, "stopped", started, restored)
        with tempfile.TemporaryDirectory() as d:
            torch.save(train_state, Path(d) / "state.pt")
            tune.report(scalars, checkpoint=tune.Checkpoint.from_directory(d))

    result = run_trial(cfg, data_root=spec["data_root"], report=report, initial_state=state)
    m = result.metrics
    final = {k: m[k] for k in _SCALARS if m.get(k) is not None}
    tune.report({**final, "final": True, "row": make_row(spec, cfg, key, m, "ok", started, restored),
                 "scores": result.scores, "embeddings": result.embedding_rows(key),
                 "heatmaps": {"trial_key": [key] * len(result.heatmaps.get("kind", [])), **result.heatmaps},
                 "history": result.history_columns(key)})
