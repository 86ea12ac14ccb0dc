"""One trial: train a CutPaste variant on one category, fit the GDE, score the test set.

A plain function of a validated config (no Ray here): usable from a notebook, a test,
``python -m trainables.run`` or the Ray Tune wrapper in ``study``. Evaluation happens
every ``eval_interval`` steps and at the end; each one calls ``report(metrics, state)``
so a scheduler can stop the trial early and a wrapper can checkpoint ``state``; every
evaluation's scalars are also kept as the trial's learning curve (``TrialResult.history``).
"""
from __future__ import annotations

import copy
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping

import numpy as np
import torch
import torch.nn.functional as F

from trainables.augment_ops import PixelStore
from trainables.augmentations import create_variant, source_batch
from trainables.config import TrialConfig
from trainables.data import CategoryData, dataset_id, load_category, resolve_data_root
from trainables.density import DensityEstimator
from trainables.metrics import auc_by_defect, image_auc
from trainables.model import build_model, freeze_backbone, freeze_batchnorm_stats

Report = Callable[[dict[str, Any], dict[str, Any] | None], None]
EVAL_BATCH = 64
HISTORY_KEYS = ("step", "image_auc", "pixel_auc", "val_auc", "loss", "train_seconds", "images_per_second")


@dataclass
class TrialResult:
    metrics: dict[str, Any]                     # image_auc, auc_by_defect, costs, ...
    config: TrialConfig
    scores: dict[str, list]                     # per test image: image_path, label, defect_type, score
    embeddings: dict[str, Any] = field(default_factory=dict)  # kind -> [n, d] features, for t-SNE figures
    heatmaps: dict[str, list] = field(default_factory=dict)    # Figure 4 rows (localizing variants)
    history: list[dict[str, Any]] = field(default_factory=list)  # HISTORY_KEYS of every evaluation

    def history_columns(self, trial_key: str) -> dict[str, list]:
        """Columns of the ``history`` results table (a learning curve): one row per evaluation."""
        return {"trial_key": [trial_key] * len(self.history),
                **{k: [h.get(k) for h in self.history] for k in HISTORY_KEYS}}

    def embedding_rows(self, trial_key: str) -> dict[str, list]:
        """Columns of the ``embeddings`` results table: one row per sampled image."""
        cols: dict[str, list] = {"trial_key": [], "kind": [], "vector": []}
        for kind, feats in self.embeddings.items():
            for v in np.asarray(feats, dtype=np.float32):
                cols["trial_key"].append(trial_key)
                cols["kind"].append(kind)
                cols["vector"].append(v.tolist())
        return cols


def cpu_has_native_bf16() -> bool:
    """AVX512-BF16 or AMX: oneDNN then runs bf16 convolutions about twice as fast as fp32."""
    probes = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
    return any(getattr(torch.cpu, name, lambda: False)() for name in probes)


def use_bf16(cfg: TrialConfig, device: torch.device) -> bool:
    """bf16 autocast under ``auto``: on CUDA, and on CPUs with native bf16 instructions.

    Measured on this project's 2-core CPU (AVX512-BF16): ResNet-18 training at 128 px went
    from 47 to 91 images/s, EfficientNet-Lite0 fine-tuning ran 1.5-1.8x faster, at equal AUC
    within seed noise. ``precision=fp32`` turns it off.
    """
    if cfg.precision != "auto":
        return cfg.precision == "bf16"
    return device.type == "cuda" or cpu_has_native_bf16()


def prepare_model(model: torch.nn.Module, cfg: TrialConfig, device: torch.device):
    """Move to the device; channels-last memory where bf16 convolutions run (faster kernels)."""
    model = model.to(device)
    amp = use_bf16(cfg, device)
    if amp:
        model = model.to(memory_format=torch.channels_last)
    return model, amp


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("device=cuda asked for, but torch sees no CUDA device")
    return torch.device(name)


def _split_train(n: int, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Held-out normal images for val_auc; the rest train the model and fit the GDE."""
    order = np.random.default_rng(seed).permutation(n)
    n_val = int(round(n * fraction))
    return np.sort(order[n_val:]), np.sort(order[:n_val])


@torch.inference_mode()
def extract_features(model, images_u8: torch.Tensor, cfg: TrialConfig, device: torch.device) -> np.ndarray:
    """Pooled features of un-augmented images, in large batches."""
    model.eval()
    out = []
    for i in range(0, len(images_u8), EVAL_BATCH):
        x = images_u8[i:i + EVAL_BATCH].to(device, non_blocking=True).float().div_(255)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=use_bf16(cfg, device)):
            f = model.features(x, cfg.feature_layer_list)
        out.append(f.float().cpu())
    return torch.cat(out).numpy().astype(np.float64)


def embedding_sample(model, data: CategoryData, store: PixelStore, test_feats: np.ndarray,
                     cfg: TrialConfig, device: torch.device) -> dict[str, np.ndarray]:
    """Features of a few normal and defective test images and of CutPaste / scar versions of
    training images, drawn with the real augmentation code (paper Fig. 3's t-SNE)."""
    n = cfg.embedding_sample
    if n <= 0:
        return {}
    rng = np.random.default_rng(cfg.seed)
    labels = np.asarray(data.test_labels)
    out = {}
    for kind, label in (("normal", 0), ("defect", 1)):
        idx = np.flatnonzero(labels == label)
        out[kind] = test_feats[np.sort(rng.permutation(idx)[:n])]
    gen = torch.Generator(device=device).manual_seed(cfg.seed + 1)
    sources = torch.randint(0, store.n, (min(n, store.n),), generator=gen, device=device)
    images, classes = create_variant("cutpaste_3way").make_batch(source_batch(store, sources, cfg, gen), cfg)
    feats = extract_features(model, images.mul(255).round().to(torch.uint8), cfg, device)
    classes = classes.cpu().numpy()
    out["cutpaste"], out["scar"] = feats[classes == 1], feats[classes == 2]
    return out


def evaluate(model, data: CategoryData, fit_idx: np.ndarray, cfg: TrialConfig,
             device: torch.device, val_idx: np.ndarray | None = None,
             patch_level: bool = False, null_stats: bool = False) -> dict[str, Any]:
    """GDE on un-augmented normal training images; AUC on the test set (and pixel AUC when
    the variant localizes: patch-level variants, or GradCAM when ``cfg.gradcam``).

    ``null_stats`` adds ``null_score_*``: out-of-fold scores of the fit images (see
    ``trainables.crossfit``), which ensembles standardise by. Only the final evaluation needs
    them, and they cost K extra density fits, so intermediate evaluations skip them.
    """
    test_feats = extract_features(model, data.test, cfg, device)   # also the t-SNE sample's source
    train_feats = density = None
    if not patch_level:
        train_feats = extract_features(model, data.train[fit_idx], cfg, device)
        density = DensityEstimator(cfg.density, seed=cfg.seed).fit(train_feats)
    maps = None
    if patch_level:
        from trainables.localization import WindowDensity, dense_window_features, upsample_window_scores
        bf16 = use_bf16(cfg, device)
        train_windows = dense_window_features(model, data.train[fit_idx], cfg, device, bf16)
        test_windows = dense_window_features(model, data.test, cfg, device, bf16)
        windows = WindowDensity(cfg).fit(train_windows)
        window_scores = windows.score(test_windows)
        scores = window_scores.max(axis=1)                  # image score: the worst window
        train_scores = windows.score(train_windows).max(axis=1)
        maps = upsample_window_scores(window_scores, data.image_size, cfg)

        def fit_score(fit: np.ndarray, held: np.ndarray) -> np.ndarray:
            return WindowDensity(cfg).fit(fit).score(held).max(axis=1)
        null_features = train_windows
    else:
        scores = density.score(test_feats)
        train_scores = density.score(train_feats)

        def fit_score(fit: np.ndarray, held: np.ndarray) -> np.ndarray:
            return DensityEstimator(cfg.density, seed=cfg.seed).fit(fit).score(held)
        null_features = train_feats
        if cfg.gradcam:
            from trainables.localization import gradcam_maps
            maps = gradcam_maps(model, density, data.test, cfg, device)
    out = {
        "image_auc": image_auc(data.test_labels, scores),
        "auc_by_defect": auc_by_defect(data.test_labels, scores, data.test_defects),
        "scores": scores,
        "train_score_mean": float(train_scores.mean()),
        "train_score_std": float(train_scores.std()),   # in-sample: kept for old readers only
        "test_features": test_feats,
        "maps": maps,
    }
    if null_stats:
        from trainables.crossfit import null_stats as crossfit_null_stats
        out.update(crossfit_null_stats(null_features, fit_score, "train_good", k=5, seed=cfg.seed))
    if maps is not None:
        from trainables.localization import pixel_auc
        out["pixel_auc"] = pixel_auc(maps, data.test_masks.numpy())
    if val_idx is not None and len(val_idx) and not patch_level:
        from trainables.validation import VAL_DEFECT_FAMILY, val_auc
        out["val_auc"] = val_auc(density, model, data, val_idx, cfg, device)
        out["val_defects"] = VAL_DEFECT_FAMILY
    return out


def heatmap_rows(data: CategoryData, maps: np.ndarray, cfg: TrialConfig, kind: str) -> dict[str, list]:
    """A few defective test images with their mask and heatmap (Figure 4), at <= 128 px."""
    defect_idx = np.flatnonzero(np.asarray(data.test_labels) == 1)
    if cfg.heatmap_sample <= 0 or len(defect_idx) == 0:
        return {}
    pick = defect_idx[np.linspace(0, len(defect_idx) - 1, min(cfg.heatmap_sample, len(defect_idx))).round().astype(int)]
    size = min(data.image_size, 128)
    img = F.interpolate(data.test[pick].float(), size=(size, size), mode="area").round().to(torch.uint8)
    mask = F.interpolate(data.test_masks[pick].unsqueeze(1).float(), size=(size, size), mode="area")[:, 0]
    heat = F.interpolate(torch.as_tensor(maps[pick], dtype=torch.float32).unsqueeze(1), size=(size, size),
                         mode="area")[:, 0]
    return {"image_path": [data.test_paths[i] for i in pick], "defect_type": [data.test_defects[i] for i in pick],
            "kind": [kind] * len(pick), "size": [size] * len(pick),
            "image": [m.permute(1, 2, 0).reshape(-1).tolist() for m in img],
            "mask": [m.reshape(-1).tolist() for m in (mask > 0.5).to(torch.uint8)],
            "heatmap": [m.reshape(-1).tolist() for m in heat]}


@dataclass(frozen=True)
class Phase:
    """A stretch of training with one optimizer: what trains, at which lr, for how long."""
    name: str
    steps: int
    lr: float
    train_backbone: bool
    freeze_bn: bool


def training_phases(cfg: TrialConfig) -> list[Phase]:
    """Scratch: one phase. Frozen: none (the pretrained control). Finetune: App. A's two."""
    if cfg.pretrained == "frozen":
        return []
    if cfg.pretrained == "finetune":
        return [p for p in (Phase("head", cfg.head_steps, cfg.lr, False, True),
                            Phase("all", cfg.steps, cfg.finetune_lr, True, True)) if p.steps > 0]
    return [Phase("all", cfg.steps, cfg.lr, True, False)]


def phase_at(phases: list[Phase], step: int) -> tuple[int, int]:
    """(phase index, first global step of that phase) for a global step."""
    start = 0
    for i, p in enumerate(phases):
        if step < start + p.steps:
            return i, start
        start += p.steps
    return len(phases) - 1, start - (phases[-1].steps if phases else 0)


def make_optimizer(model, cfg: TrialConfig, phase: Phase):
    freeze_backbone(model, not phase.train_backbone)
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.SGD(params, lr=phase.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)
    return opt, torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(phase.steps, 1))


def set_train_mode(model, phase: Phase) -> None:
    model.train()
    if not phase.train_backbone:
        model.encoder.eval()
    elif phase.freeze_bn:
        freeze_batchnorm_stats(model.encoder)


def train_step(model, opt, variant, store: PixelStore, cfg: TrialConfig, gen: torch.Generator,
               amp: bool) -> tuple[torch.Tensor, int]:
    """One SGD step: draw source images, augment them on the device, forward, backward.

    Returns the (un-synchronised) loss tensor and the number of trained images.
    """
    sources = torch.randint(0, store.n, (cfg.batch_size,), generator=gen, device=store.device)
    crop = cfg.patch_size if variant.patch_level else None
    images, labels = variant.make_batch(source_batch(store, sources, cfg, gen, crop=crop), cfg)
    if amp:
        images = images.contiguous(memory_format=torch.channels_last)
    with torch.autocast(store.device.type, dtype=torch.bfloat16, enabled=amp):
        loss = F.cross_entropy(model(images), labels)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
    return loss, images.shape[0]


def run_trial(config: TrialConfig | Mapping[str, Any], data_root: str | Path | None = None,
              report: Report | None = None, initial_state: dict[str, Any] | None = None,
              verbose: bool = False) -> TrialResult:
    cfg = config if isinstance(config, TrialConfig) else TrialConfig.from_dict(config)
    device = resolve_device(cfg.device)
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    root = resolve_data_root(data_root, verbose=verbose)
    data = load_category(root, cfg.category, cfg.image_size, verbose=verbose)
    variant = create_variant(cfg.variant)
    fit_idx, val_idx = _split_train(len(data.train), cfg.val_fraction, cfg.seed)

    torch.manual_seed(cfg.seed)
    model, amp = prepare_model(build_model(cfg, variant.num_classes), cfg, device)
    phases = training_phases(cfg)
    total_steps = sum(p.steps for p in phases)
    gen = torch.Generator(device=device).manual_seed(cfg.seed)
    step = 0
    if initial_state is not None:
        model.load_state_dict(initial_state["model"])
        gen.set_state(initial_state["generator"].to(gen.get_state().device))
        step = int(initial_state["step"])
    phase_idx, _ = phase_at(phases, step)
    opt = sched = None
    if phases:
        opt, sched = make_optimizer(model, cfg, phases[phase_idx])
        if initial_state is not None and initial_state.get("phase", 0) == phase_idx and "optimizer" in initial_state:
            opt.load_state_dict(initial_state["optimizer"])
            sched.load_state_dict(initial_state["scheduler"])
    step_model = torch.compile(model) if cfg.compile else model

    store = PixelStore(data.train[fit_idx].to(device))     # whole train set lives on the device
    dataset_name = dataset_id(root)
    device_label = str(device) if device.type == "cpu" else torch.cuda.get_device_name(device)
    interval = cfg.eval_interval if cfg.eval_interval > 0 else total_steps
    train_seconds = eval_seconds = 0.0
    trained_images = 0
    last: dict[str, Any] = {}
    loss: torch.Tensor | None = None
    # the learning curve so far travels in the checkpoint, so a resumed trial keeps its start
    history: list[dict[str, Any]] = list(initial_state.get("history", [])) if initial_state else []
    checkpoints = sorted({s for s in range(interval, total_steps + 1, max(interval, 1))} | {total_steps})
    checkpoints = [c for c in checkpoints if c > step] or [step]

    for stop_at in checkpoints:
        t0 = time.perf_counter()
        while step < stop_at:
            idx, start = phase_at(phases, step)
            if idx != phase_idx:
                phase_idx = idx
                opt, sched = make_optimizer(model, cfg, phases[idx])
            set_train_mode(model, phases[idx])
            run_until = min(stop_at, start + phases[idx].steps)
            while step < run_until:
                loss, n_images = train_step(step_model, opt, variant, store, cfg, gen, amp)
                sched.step()
                step += 1
                trained_images += n_images
        if device.type == "cuda":
            torch.cuda.synchronize()
        train_seconds += time.perf_counter() - t0
        t1 = time.perf_counter()
        ev = evaluate(model, data, fit_idx, cfg, device, val_idx, patch_level=variant.patch_level,
                      null_stats=stop_at == checkpoints[-1])
        eval_seconds += time.perf_counter() - t1
        last = ev
        metrics = {
            "step": step,
            "image_auc": ev["image_auc"],
            "pixel_auc": ev.get("pixel_auc"),
            "auc_by_defect": ev["auc_by_defect"],
            "val_auc": ev.get("val_auc"),
            "val_defects": ev.get("val_defects"),
            "loss": float(loss.detach()) if loss is not None else float("nan"),
            "train_seconds": train_seconds,
            "eval_seconds": eval_seconds,
            "images_per_second": trained_images / train_seconds if train_seconds > 0 else 0.0,
            "dataset": dataset_name,
            "device": device_label,
        }
        # a retry resumed at its last step evaluates that step again: keep one row per step
        history = [h for h in history if h["step"] != step] + [{k: metrics[k] for k in HISTORY_KEYS}]
        if verbose:
            print(f"[trial] {cfg.category}/{cfg.variant} step {step}/{total_steps} "
                  f"image_auc={metrics['image_auc']:.4f} loss={metrics['loss']:.4f} "
                  f"({metrics['images_per_second']:.0f} img/s)", flush=True)
        if report is not None:
            # a snapshot, not live references: training goes on after the report
            state = {"model": model.state_dict(), "generator": gen.get_state().cpu(),
                     "step": step, "phase": phase_idx, "history": history}
            if opt is not None:
                state.update(optimizer=opt.state_dict(), scheduler=sched.state_dict())
            state = copy.deepcopy(state)
            report(metrics, state)

    metrics.update({k: last.get(k) for k in ("train_score_mean", "train_score_std", "null_score_mean",
                                             "null_score_std", "null_score_method")})
    scores = {
        "image_path": list(data.test_paths),
        "label": data.test_labels.tolist(),
        "defect_type": list(data.test_defects),
        "score": last["scores"].astype(float).tolist(),
    }
    embeddings = embedding_sample(model, data, store, last["test_features"], cfg, device)
    heatmaps = {}
    if last.get("maps") is not None:
        kind = "patch" if variant.patch_level else "gradcam"
        heatmaps = heatmap_rows(data, last["maps"], cfg, kind)
    return TrialResult(metrics=metrics, config=cfg, scores=scores, embeddings=embeddings, heatmaps=heatmaps,
                       history=history)
