"""``--calibrate DIR``: re-fit an exported model's threshold on known-good images, without retraining.

The images are scored by the model as they would be in production; the threshold is the same
rule the trial used on its held-out normals (``trainables.metrics.threshold.threshold_at_fpr`` at
the model's target FPR), now on these ``n`` images, so its guarantee is the bound for ``n``
(``trainables.deploy.threshold.fpr_bound``). The new threshold, its source (``calibrate:<n>``), the
folder, the normals, the bound and the share of these images it flags are written into the
model's metadata **in place** (a temporary file renamed over the model; the graph is unchanged),
the previous threshold appended to ``threshold_history``. No torch is imported.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from trainables.deploy.metadata import write_metadata
from trainables.deploy.predict import Model, find_images, load_model, predict
from trainables.deploy.threshold import CONFIDENCE, fpr_bound
from trainables.metrics.threshold import threshold_at_fpr


@dataclass(frozen=True)
class Calibration:
    threshold: float
    previous: float | None
    normals: int
    fpr: float                 # the target
    flagged: float             # the share of the calibration images it flags (<= fpr)
    fpr_bound: float           # at CONFIDENCE
    failed: tuple[tuple[Path, str], ...]


def calibrate(model: Model, folder: str | Path, fpr: float | None = None,
              batch_size: int = 16) -> tuple[Model, Calibration]:
    """Re-fit ``model``'s threshold on the good images under ``folder``; the model is rewritten
    in place and returned reloaded. Unreadable images are skipped (and listed)."""
    paths, _ = find_images([str(folder)])
    if not paths:
        raise ValueError(f"--calibrate {folder}: no image files there")
    failed: list[tuple[Path, str]] = []
    scores = np.array([p.score for p in predict(model, paths, batch_size, failed=failed)])
    if len(scores) == 0:
        raise ValueError(f"--calibrate {folder}: none of its {len(paths)} images could be read")
    fpr = float(fpr if fpr is not None else model.meta["threshold_fpr"])
    t = threshold_at_fpr(scores, fpr)
    old = model.meta
    history = list(old.get("threshold_history") or []) + [
        {k: old.get(k) for k in ("threshold", "threshold_source", "threshold_normals", "threshold_fpr_bound")}]
    cal = Calibration(threshold=t, previous=old.get("threshold"), normals=len(scores), fpr=fpr,
                      flagged=float(np.mean(scores >= t)), fpr_bound=fpr_bound(len(scores), fpr),
                      failed=tuple(failed))
    write_metadata(model.path, {
        "threshold": t, "threshold_source": f"calibrate:{len(scores)}", "threshold_fpr": fpr,
        "threshold_normals": len(scores), "threshold_fpr_bound": cal.fpr_bound, "threshold_confidence": CONFIDENCE,
        "threshold_heldout_fpr": cal.flagged, "threshold_calibrated_on": str(Path(folder).resolve()),
        "threshold_calibrated_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "threshold_history": history})
    return load_model(model.path), cal
