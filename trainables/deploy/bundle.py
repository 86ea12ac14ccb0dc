"""A trial's bundle: everything needed to score the next image as the trial scored its test set.

A bundle is a folder of three files (DESIGN.md, "Model bundles"):

- ``bundle.json``: the format, trial key, dataset fingerprint, the config, the row's metrics,
  the threshold (value, source, target FPR, the share of held-out normals it flagged, how many
  normals set it, and the FPR bound it guarantees at 95% confidence: ``trainables.deploy.threshold``),
  the preprocessing (image size, resize, scaling, normalisation), the density's description
  (kind, image or patch level, per-location or shared, window grid), the precision the trial
  evaluated in, code and torch versions;
- ``encoder.pt``: the encoder's state dict (tensors only; ``torch.load(weights_only=True)``);
- ``density.npz``: the density's parameters in float64, at patch level stacked over window
  locations (``[L, ...]``) or one set shared by every window: a Gaussian's ``location`` and
  ``precision``; a mixture's ``weights``, ``means`` and ``precisions_cholesky``; a KDE's
  ``fit_features`` and ``bandwidth`` (kept, though no ONNX graph can hold it).

It is written under a temporary name beside the target and renamed into place, so a reader
never sees half a bundle; an existing bundle at the target is replaced.
"""
from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from trainables.config import TrialConfig
from trainables.deploy.threshold import CONFIDENCE, fpr_bound, normals_in
from trainables.evaluate.patches import WindowDensity, window_grid
from trainables.metrics import TRIAL_METRICS
from trainables.models.backbones import build_encoder
from trainables.models.density import DensityEstimator
from trainables.trial import TrialResult

FORMAT = "cutpaste-bundle/1"
MANIFEST, ENCODER, DENSITY = "bundle.json", "encoder.pt", "density.npz"
GAUSSIANS = ("ledoit_wolf", "full")      # densities scored by the squared Mahalanobis distance


class BundleError(ValueError):
    """A bundle cannot be written or read; the message names the file or the part at fault."""


@dataclass
class Bundle:
    """A bundle read back: its manifest, the encoder's weights and the density's arrays."""
    path: Path
    manifest: dict[str, Any]
    encoder_state: dict[str, torch.Tensor]
    density: dict[str, np.ndarray]

    @property
    def config(self) -> TrialConfig:
        return TrialConfig.from_dict(self.manifest["config"], where=f"bundle {self.path}")

    def encoder(self) -> torch.nn.Module:
        """The trial's encoder with its trained weights, in eval mode, on the CPU."""
        enc = build_encoder(self.config.backbone, pretrained=False)
        enc.load_state_dict(self.encoder_state)
        return enc.eval()


def _estimator_arrays(est: DensityEstimator) -> dict[str, np.ndarray]:
    e = est._est
    if est.kind in GAUSSIANS:
        return {"location": e.location_, "precision": e.precision_}
    if est.kind == "gmm":
        if e.covariance_type != "full":
            raise BundleError(f"gmm with covariance_type {e.covariance_type!r}: only 'full' is saved")
        return {"weights": e.weights_, "means": e.means_, "precisions_cholesky": e.precisions_cholesky_}
    if est.kind == "kde":
        return {"fit_features": np.asarray(e.tree_.data), "bandwidth": np.asarray(e.bandwidth_)}
    raise BundleError(f"density {est.kind!r} has no saved form")


def density_parts(density: DensityEstimator | WindowDensity, cfg: TrialConfig) -> tuple[dict, dict[str, np.ndarray]]:
    """(description, float64 arrays) of an image-level density or a patch level's windows."""
    if isinstance(density, DensityEstimator):
        return {"kind": density.kind, "level": "image"}, {
            k: np.asarray(v, np.float64) for k, v in _estimator_arrays(density).items()}
    if not isinstance(density, WindowDensity):
        raise BundleError(f"the trial's result holds no fitted density ({type(density).__name__})")
    parts = [_estimator_arrays(e) for e in density.estimators]
    arrays = {k: np.stack([np.asarray(p[k], np.float64) for p in parts]) for k in parts[0]}
    gh, gw = window_grid(cfg.image_size, cfg)
    return {"kind": cfg.density, "level": "patch", "per_location": density.per_location, "windows": [gh, gw],
            "patch_size": cfg.patch_size, "patch_stride": cfg.patch_stride}, arrays


@functools.cache
def code_version() -> str:
    """The git commit this code is at (short), or ``unknown``; asked of git once per process
    (a reused worker keeps the modules it imported, so its code cannot change under it)."""
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                             cwd=Path(__file__).parent, timeout=5)
        return out.stdout.strip() or "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def local_key(cfg: TrialConfig) -> str:
    """A key for a trial run outside a study (``trainables.run --save``): ``local-`` and a hash
    of the config (a study's keys also hash the study's name: ``study.spec.trial_key``)."""
    payload = json.dumps(cfg.to_dict(), sort_keys=True, default=str)
    return "local-" + hashlib.sha256(payload.encode()).hexdigest()[:16]


def threshold_record(metrics: dict[str, Any], cfg: TrialConfig) -> dict[str, Any]:
    """The threshold as a bundle keeps it: value, source, target FPR, held-out FPR, how many
    normals set it and the FPR bound at 95% confidence (nulls without held-out normals)."""
    n = normals_in(metrics.get("threshold_source"))
    return {"value": metrics.get("threshold"), "source": metrics.get("threshold_source"),
            "fpr": cfg.threshold_fpr, "heldout_fpr": metrics.get("threshold_heldout_fpr"), "normals": n,
            "confidence": CONFIDENCE, "fpr_bound": None if n is None else fpr_bound(n, cfg.threshold_fpr)}


def _json_safe(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (dt.datetime, dt.date)):
        return value.isoformat()
    return value


def manifest(result: TrialResult, trial_key: str, density: dict, version: str) -> dict[str, Any]:
    cfg, m = result.config, result.metrics
    enc = result.model.encoder
    return {
        "format": FORMAT, "trial_key": trial_key, "dataset": m.get("dataset"),
        "category": cfg.category, "variant": cfg.variant,
        "config": cfg.to_dict(), "metrics": _json_safe({k: m.get(k) for k in TRIAL_METRICS}),
        "threshold": threshold_record(m, cfg),
        "preprocessing": {"image_size": cfg.image_size, "color": "RGB",
                          "resize": "PIL Image.resize((image_size, image_size), BILINEAR)",
                          "scale": "x / 255", "mean": list(enc.mean), "std": list(enc.std)},
        "density": density, "precision": result.precision,
        "code_version": version, "torch_version": torch.__version__,
        "created_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
    }


def save_bundle(result: TrialResult, out: str | Path, trial_key: str | None = None,
                version: str | None = None) -> Path:
    """Write ``result``'s bundle to the folder ``out`` (temporary name, then renamed into place)."""
    if result.model is None or result.density is None:
        raise BundleError("this trial result carries no model or density (a result from an older run?)")
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    desc, arrays = density_parts(result.density, result.config)
    key = trial_key or local_key(result.config)
    tmp = out.parent / f".{out.name}.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    try:
        state = {k: v.detach().cpu().contiguous() for k, v in result.model.encoder.state_dict().items()}
        torch.save(state, tmp / ENCODER)
        np.savez(tmp / DENSITY, **arrays)
        info = manifest(result, key, desc, version or code_version())
        (tmp / MANIFEST).write_text(json.dumps(info, indent=2, default=str))
        replace_folder(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out


def replace_folder(new: Path, target: Path) -> None:
    """Put the folder ``new`` at ``target`` by renames; an old ``target`` is moved aside, then removed."""
    old = target.parent / f".{target.name}.old-{os.getpid()}"
    if target.exists():
        os.replace(target, old)
    os.replace(new, target)
    shutil.rmtree(old, ignore_errors=True)


def load_bundle(path: str | Path) -> Bundle:
    """Read a bundle folder; a missing file or another format raises BundleError naming it."""
    path = Path(path)
    for name in (MANIFEST, ENCODER, DENSITY):
        if not (path / name).is_file():
            raise BundleError(f"{path} is not a bundle: {name} is missing (python -m trainables.run ... --save DIR)")
    info = json.loads((path / MANIFEST).read_text())
    if info.get("format") != FORMAT:
        raise BundleError(f"{path / MANIFEST}: format {info.get('format')!r}, this code reads {FORMAT!r}")
    state = torch.load(path / ENCODER, map_location="cpu", weights_only=True)
    with np.load(path / DENSITY) as z:
        arrays = {k: z[k] for k in z.files}
    return Bundle(path, info, state, arrays)
