"""One trial: train a CutPaste variant on one category, fit the GDE, score the test set.

A plain function of a validated config (no Ray here): usable from a notebook, a test,
``python -m trainables.run`` or the Ray Tune wrapper in ``study``. Evaluation happens
every ``eval_interval`` steps and at the end; each one calls ``report(metrics, state)``
so a scheduler can stop the trial early and a wrapper can checkpoint ``state``. Every
``log_interval`` steps the trainer's mean loss and accuracy on the self-supervised task and
its learning rate become a point of the trial's learning curve (``TrialResult.history``),
joined by the AUCs at the steps that are evaluated.

This module only composes the packages (``data``, ``augment``, ``models``, ``train``,
``evaluate``): it owns
the trial's result, the metrics each evaluation reports, and the checkpoint state a
wrapper saves and a retry resumes from.
"""
from __future__ import annotations

import copy
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping

import numpy as np
import torch

from trainables.augment import PixelStore, Variant, create_variant
from trainables.config import TrialConfig
from trainables.data import CategoryData, dataset_id, load_category, resolve_data_root
from trainables.evaluate import embedding_sample, evaluate, heatmap_rows, split_category
from trainables.metrics import ANOMALY_METRICS, HISTORY_METRICS
from trainables.models import build_model
from trainables.train import Trainer, device_label, prepare_model, resolve_device, synchronize, use_bf16
from trainables.worker import begin_trial, end_trial

Report = Callable[[dict[str, Any], dict[str, Any] | None], None]
FINAL_KEYS = ("train_score_mean", "train_score_std", "null_score_mean", "null_score_std", "null_score_method")


@dataclass
class TrialResult:
    metrics: dict[str, Any]                     # image_auc, auc_by_defect, costs, ...
    config: TrialConfig
    scores: dict[str, list]                     # per test image: image_path, label, defect_type, score
    embeddings: dict[str, Any] = field(default_factory=dict)  # kind -> [n, d] features, for t-SNE figures
    heatmaps: dict[str, list] = field(default_factory=dict)    # Figure 4 rows (localizing variants)
    history: list[dict[str, Any]] = field(default_factory=list)  # HISTORY_METRICS of every curve point
    model: Any = None                           # the trained network (eval mode): what a bundle saves
    density: Any = None                         # the density fitted at the last evaluation (trainables.deploy)
    precision: str = "fp32"                     # the evaluation's precision: fp32, or bf16 under autocast

    def history_columns(self, trial_key: str) -> dict[str, list]:
        """Columns of the ``history`` results table (a learning curve): one row per curve point."""
        return {"trial_key": [trial_key] * len(self.history),
                **{k: [h.get(k) for h in self.history] for k in HISTORY_METRICS}}

    def embedding_rows(self, trial_key: str) -> dict[str, list]:
        """Columns of the ``embeddings`` results table: one row per sampled image."""
        cols: dict[str, list] = {"trial_key": [], "kind": [], "vector": []}
        for kind, feats in self.embeddings.items():
            for v in np.asarray(feats, dtype=np.float32):
                cols["trial_key"].append(trial_key)
                cols["kind"].append(kind)
                cols["vector"].append(v.tolist())
        return cols


# ------------------------------------------------------------------ checkpoint state
def checkpoint_state(trainer: Trainer, history: list[dict[str, Any]]) -> dict[str, Any]:
    """What a wrapper saves to resume from: a snapshot, not live references (training goes on)."""
    state = {"model": trainer.model.state_dict(), "generator": trainer.gen.get_state().cpu(),
             "step": trainer.step, "phase": trainer.phase_idx, "history": history}
    if trainer.opt is not None:
        state.update(optimizer=trainer.opt.state_dict(), scheduler=trainer.sched.state_dict())
    return copy.deepcopy(state)


def resume_model(model, gen: torch.Generator, state: dict[str, Any] | None) -> int:
    """Load a checkpoint's weights and generator; the step it was taken at (0 without one)."""
    if state is None:
        return 0
    model.load_state_dict(state["model"])
    gen.set_state(state["generator"].to(gen.get_state().device))
    return int(state["step"])


def resume_optimizer(trainer: Trainer, state: dict[str, Any] | None) -> None:
    """The checkpoint's optimizer and schedule, when it was taken in the trainer's current phase."""
    if state is not None and trainer.opt is not None and state.get("phase", 0) == trainer.phase_idx \
            and "optimizer" in state:
        trainer.opt.load_state_dict(state["optimizer"])
        trainer.sched.load_state_dict(state["scheduler"])


# ------------------------------------------------------------------ composing a trial
def start_training(cfg: TrialConfig, variant: Variant, train_u8: torch.Tensor, device: torch.device,
                   state: dict[str, Any] | None) -> Trainer:
    """The seeded model on the device, its generator and optimizer, resumed from ``state`` if given."""
    torch.manual_seed(cfg.seed)
    model, amp = prepare_model(build_model(cfg, variant.num_classes), cfg, device)
    gen = torch.Generator(device=device).manual_seed(cfg.seed)
    step = resume_model(model, gen, state)
    store = PixelStore(train_u8.to(device))     # whole train set lives on the device
    trainer = Trainer(model, cfg, variant, store, gen, amp, step)
    resume_optimizer(trainer, state)
    return trainer


def evaluation_steps(eval_interval: int, total_steps: int, step: int) -> list[int]:
    """Global steps still to evaluate at: every ``eval_interval`` and the last (at least one)."""
    interval = eval_interval if eval_interval > 0 else total_steps
    steps = sorted({s for s in range(interval, total_steps + 1, max(interval, 1))} | {total_steps})
    return [s for s in steps if s > step] or [step]


def curve_steps(log_interval: int, total_steps: int, step: int) -> list[int]:
    """Global steps still to take a learning-curve point at: every ``log_interval`` steps
    (0: about 100 points over the trial, every step for a trial under 100 steps) and the last."""
    interval = log_interval or max(1, total_steps // 100)
    return [s for s in sorted({*range(interval, total_steps + 1, interval), total_steps}) if s > step]


def eval_metrics(ev: dict[str, Any], trainer: Trainer, train_seconds: float, eval_seconds: float,
                 where: dict[str, str]) -> dict[str, Any]:
    """What one evaluation reports: its AUCs, AP, F1-max, AUPRO and threshold
    (``ANOMALY_METRICS``, null where the trial has no maps or no held-out normals), the last
    loss and the costs so far."""
    return {
        "step": trainer.step,
        "image_auc": ev["image_auc"],
        "pixel_auc": ev.get("pixel_auc"),
        "auc_by_defect": ev["auc_by_defect"],
        "val_auc": ev.get("val_auc"),
        "val_defects": ev.get("val_defects"),
        **{k: ev.get(k) for k in ANOMALY_METRICS},
        "loss": float(trainer.loss.detach()) if trainer.loss is not None else float("nan"),
        "train_seconds": train_seconds,
        "eval_seconds": eval_seconds,
        "images_per_second": trainer.trained_images / train_seconds if train_seconds > 0 else 0.0,
        **where,                                              # dataset, device
    }


def with_history(history: list[dict[str, Any]], point: dict[str, Any]) -> list[dict[str, Any]]:
    """The learning curve with this point. A retry resumed at its last step evaluates that step
    again without training: the point then fills the row already there, keeping one per step."""
    old = next((h for h in history if h["step"] == point["step"]), {})
    row = {k: point[k] if point.get(k) is not None else old.get(k) for k in HISTORY_METRICS}
    return [h for h in history if h["step"] != point["step"]] + [row]


def _say(cfg: TrialConfig, trainer: Trainer, point: dict[str, Any], rate: float) -> None:
    """``trainables.run``'s progress line: where training is and how fast."""
    learning = "" if point.get("loss") is None else \
        f"  loss {point['loss']:.4f}  accuracy {point['accuracy']:.3f}  lr {point['lr']:.3g}  {rate:,.0f} img/s"
    aucs = "".join(f"  {k} {point[k]:.4f}" for k in ("image_auc", "val_auc") if point.get(k) is not None)
    print(f"[trial] {cfg.category}/{cfg.variant} phase {trainer.phase_name} step {trainer.step}/"
          f"{trainer.total_steps}{learning}{aucs}", flush=True)


def finish(cfg: TrialConfig, data: CategoryData, trainer: Trainer, metrics: dict[str, Any],
           last: dict[str, Any], history: list[dict[str, Any]], device: torch.device) -> TrialResult:
    """The result: final metrics with the score statistics, per-image scores, figure samples."""
    metrics.update({k: last.get(k) for k in FINAL_KEYS})
    scores = {
        "image_path": list(data.test_paths),
        "label": data.test_labels.tolist(),
        "defect_type": list(data.test_defects),
        "score": last["scores"].astype(float).tolist(),
    }
    embeddings = embedding_sample(trainer.model, data, trainer.store, last["test_features"], cfg, device)
    heatmaps = {}
    if last.get("maps") is not None:
        heatmaps = heatmap_rows(data, last["maps"], cfg, "patch" if trainer.variant.patch_level else "gradcam")
    return TrialResult(metrics=metrics, config=cfg, scores=scores, embeddings=embeddings, heatmaps=heatmaps,
                       history=history, model=trainer.model.eval(), density=last.get("density"),
                       precision="bf16" if use_bf16(cfg, device) else "fp32")


def run_trial(config: TrialConfig | Mapping[str, Any], data_root: str | Path | None = None,
              report: Report | None = None, initial_state: dict[str, Any] | None = None,
              verbose: bool = False) -> TrialResult:
    """Train, evaluate at every evaluation step (reporting each), and return the final result."""
    cfg = config if isinstance(config, TrialConfig) else TrialConfig.from_dict(config)
    device = resolve_device(cfg.device)
    begin_trial(cfg.seed, cfg.threads)        # whatever an earlier trial in this process changed
    try:
        return _run(cfg, device, data_root, report, initial_state, verbose)
    finally:
        end_trial()


def _run(cfg: TrialConfig, device: torch.device, data_root: str | Path | None, report: Report | None,
         initial_state: dict[str, Any] | None, verbose: bool) -> TrialResult:
    root = resolve_data_root(data_root, verbose=verbose)
    data = load_category(root, cfg.category, cfg.image_size, verbose=verbose)
    variant = create_variant(cfg.variant)
    fit_idx, val_idx = split_category(data, cfg.val_fraction, cfg.seed)   # held out: never trained on
    trainer = start_training(cfg, variant, data.train[fit_idx], device, initial_state)
    where = {"dataset": dataset_id(root), "device": device_label(device)}
    # the learning curve so far travels in the checkpoint, so a resumed trial keeps its start
    history: list[dict[str, Any]] = list(initial_state.get("history", [])) if initial_state else []
    evals = evaluation_steps(cfg.eval_interval, trainer.total_steps, trainer.step)
    # curve points and evaluations in step order; the last one is always an evaluation
    points = sorted(set(evals) | set(curve_steps(cfg.log_interval, trainer.total_steps, trainer.step)))
    if verbose:
        print(f"[trial] {cfg.category}/{cfg.variant}: {trainer.total_steps} steps in phases "
              f"{[(p.name, p.steps, p.lr) for p in trainer.phases]}, {len(points)} curve points, "
              f"evaluation at steps {evals}", flush=True)
    train_seconds = eval_seconds = said_at = 0.0
    said = (0.0, 0)                                    # train seconds and images at the last line
    for stop_at in points:
        t0 = time.perf_counter()
        trainer.train_until(stop_at)
        point = trainer.curve_point()                  # reads the device's sums: the wait is here
        synchronize(device)
        train_seconds += time.perf_counter() - t0
        point.update(step=trainer.step, train_seconds=train_seconds,
                     images_per_second=trainer.trained_images / train_seconds if train_seconds > 0 else 0.0)
        if stop_at in evals:
            t1 = time.perf_counter()
            last = evaluate(trainer.model, data, fit_idx, cfg, device, val_idx, patch_level=variant.patch_level,
                            null_stats=stop_at == points[-1])
            eval_seconds += time.perf_counter() - t1
            metrics = eval_metrics(last, trainer, train_seconds, eval_seconds, where)
            point.update({k: metrics.get(k) for k in ("image_auc", "pixel_auc", "val_auc")})
        history = with_history(history, point)
        if verbose and (stop_at in evals or time.perf_counter() - said_at >= 5):
            seconds, images = train_seconds - said[0], trainer.trained_images - said[1]
            _say(cfg, trainer, point, images / seconds if seconds > 0 else 0.0)
            said_at, said = time.perf_counter(), (train_seconds, trainer.trained_images)
        if stop_at in evals and report is not None:
            report(metrics, checkpoint_state(trainer, history))
    return finish(cfg, data, trainer, metrics, last, history, device)
