"""The ONNX model's metadata: what the threshold is and what it promises, what the model is, and
how to feed it (no torch here: ``predict`` and ``--calibrate`` read and write it).

Every value is a string (ONNX ``metadata_props``); :func:`read_metadata` gives them typed back.
Keys: ``format``, ``input``, ``outputs``, ``image_size``; ``threshold``, ``threshold_source``,
``threshold_fpr`` (the target), ``threshold_normals`` (how many normals set it),
``threshold_fpr_bound`` (the FPR it guarantees at ``threshold_confidence``),
``threshold_heldout_fpr``, ``threshold_history`` (JSON list of earlier thresholds, after
``--calibrate``); ``trial_key``, ``dataset``, ``category``, ``variant``, ``density``,
``precision``, ``code_version``, ``metrics`` and ``config`` (JSON).
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import onnx

FORMAT = "cutpaste-onnx/1"
INPUT = "images"
SCORE, MAP = "score", "anomaly_map"
_FLOATS = ("threshold", "threshold_fpr", "threshold_fpr_bound", "threshold_confidence", "threshold_heldout_fpr")
_INTS = ("image_size", "threshold_normals")
_JSON = ("metrics", "config", "threshold_history")


def as_strings(values: dict[str, Any]) -> dict[str, str]:
    """Metadata values as ONNX stores them: JSON for mappings and lists, ``""`` for None."""
    out = {}
    for k, v in values.items():
        if k in _JSON or isinstance(v, (dict, list)):
            out[k] = json.dumps(v, default=str)
        else:
            out[k] = "" if v is None else str(v)
    return out


def typed(raw: dict[str, str]) -> dict[str, Any]:
    """Metadata strings as values: floats, ints, JSON, None for empty."""
    out: dict[str, Any] = {}
    for k, v in raw.items():
        if v == "":
            out[k] = None
        elif k in _FLOATS:
            out[k] = float(v)
        elif k in _INTS:
            out[k] = int(v)
        elif k in _JSON:
            out[k] = json.loads(v)
        else:
            out[k] = v
    return out


def read_metadata(path: str | Path) -> dict[str, Any]:
    """The metadata of an ONNX file exported by ``trainables.export``; another file raises ValueError."""
    model = onnx.load(str(path), load_external_data=False)
    raw = {p.key: p.value for p in model.metadata_props}
    if raw.get("format") != FORMAT:
        raise ValueError(f"{path}: not a model exported by python -m trainables.export (metadata format "
                         f"{raw.get('format')!r}, expected {FORMAT!r})")
    return typed(raw)


def write_metadata(path: str | Path, updates: dict[str, Any], out: str | Path | None = None) -> Path:
    """Set metadata keys of the ONNX file ``path``, written to ``out`` (default: ``path`` itself)
    under a temporary name and renamed into place; the graph and weights are unchanged."""
    model = onnx.load(str(path))
    props = {p.key: p.value for p in model.metadata_props}
    props.update(as_strings(updates))
    onnx.helper.set_model_props(model, props)
    target = Path(out or path)
    tmp = target.parent / f".{target.name}.tmp-{os.getpid()}"
    onnx.save(model, str(tmp))
    os.replace(tmp, target)
    return target
