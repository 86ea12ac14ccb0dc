"""A study's table columns: which configurations it trains, which are controls, which
control each trained column is paired with, and how to name the model in a caption.

Columns are named by the config fields that differ between a study's trained trials
(``variant`` for Table 1, ``lr=0.1`` for Table 7); controls (``study.controls``) form
their own columns, ``control: untrained`` or ``control: ImageNet-frozen``, so that one
untrained control serves Table 1's six variants (Table 2's patch-level and image-level
controls are told apart: ``control: untrained (patch-level)``). A trained column's control is the
control column with the same model and evaluation (backbone, image size, features...).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from study.controls import control_kind, is_control
from study.results.schema import C
from trainables.augment import VARIANTS
from trainables.config import FIELD_TYPES, TrialConfig
from trainables.models import PRETRAINED_MODES

NOT_CONFIG = {C.category, C.seed, "threads", "device", "eval_interval", "embedding_sample", "compile",
              "heatmap_sample", "precision"}
# what must agree between a trained column and its control
PAIRING_FIELDS = ("backbone", "image_size", "feature_layers", "density", "patch_size", "patch_stride",
                  "patch_gde", "gradcam")


def _fmt(v) -> str:
    return f"{v:g}" if isinstance(v, float) else str(v)


def with_defaults(trials: pd.DataFrame) -> pd.DataFrame:
    """Rows written before a config field existed get that field's default (it is what ran)."""
    defaults = TrialConfig().to_dict()
    out = trials.copy()
    for c in FIELD_TYPES:
        if c in NOT_CONFIG:
            continue
        if c not in out.columns:
            out[c] = defaults[c]
        elif out[c].isna().any():
            out[c] = out[c].astype(object).where(out[c].notna(), defaults[c])
    return out


def varied_params(trials: pd.DataFrame) -> list[str]:
    """Config columns that differ between trials of a study: they name its table columns."""
    trials = with_defaults(trials)
    cols = [c for c in FIELD_TYPES if c not in NOT_CONFIG]
    varied = [c for c in cols if trials[c].astype(str).nunique(dropna=False) > 1]
    return varied or [C.variant]


def column_label(params: dict, varied: list[str]) -> str:
    if varied == [C.variant]:
        return str(params[C.variant])
    return ", ".join(f"{k}={_fmt(params[k])}" for k in varied)


def _pairing_key(row: dict) -> tuple:
    patch = VARIANTS[row[C.variant]].patch_level if row[C.variant] in VARIANTS else False
    return (patch, *(str(row.get(k)) for k in PAIRING_FIELDS))


def _labels(rows: pd.DataFrame, control: np.ndarray, varied: list[str], varied_c: list[str]) -> np.ndarray:
    """The column label of each row (``rows``: one per configuration; ``control``: which are
    controls; ``varied``, ``varied_c``: the fields that differ between the study's trained
    rows, and between its controls, which name their columns)."""
    labels = np.full(len(rows), "", dtype=object)
    records = rows.to_dict("records")
    for i in np.flatnonzero(~control):
        labels[i] = column_label(records[i], varied)
    # Table 2's untrained patch model and its untrained image-level (GradCAM) model are two controls
    levels = {_pairing_key(records[i])[0] for i in np.flatnonzero(control)}
    for i in np.flatnonzero(control):
        r = records[i]
        extra = ", ".join([*(["patch-level" if _pairing_key(r)[0] else "image-level"] if len(levels) > 1 else []),
                           *(f"{k}={_fmt(r[k])}" for k in varied_c if k in PAIRING_FIELDS)])
        labels[i] = f"control: {control_kind(r)}" + (f" ({extra})" if extra else "")
    return labels


def assign_columns(ok: pd.DataFrame) -> tuple[pd.DataFrame, list[str], list[str], dict[str, str], dict[str, dict]]:
    """Label every row with its column.

    Rows of one configuration (equal in every config field but those of ``NOT_CONFIG``, the
    seed and category among them) get one label, so labels are worked out once per
    configuration (a study of 10,000 trials has a few dozen) and spread to its rows.
    Returns (rows with ``tcol``, all columns in display order, the control columns,
    trained column -> its control column, column -> the config of its first row).
    """
    fields = [c for c in FIELD_TYPES if c in ok.columns and c not in NOT_CONFIG]
    config = (ok.groupby(fields, dropna=False, sort=False).ngroup().to_numpy() if fields and len(ok)
              else np.zeros(len(ok), int))
    first = np.unique(config, return_index=True)[1]            # a row per config, in order of appearance
    rows = ok.iloc[first]
    control = np.array([is_control(r) for r in rows.to_dict("records")], dtype=bool)
    control_mask = control[config]
    trained, controls = ok[~control_mask], ok[control_mask]
    varied = varied_params(trained) if len(trained) else []
    varied_c = ([c for c in varied_params(controls) if c not in (C.variant, "steps", "head_steps", "lr")]
                if len(controls) else [])
    ok = ok.assign(tcol=_labels(rows, control, varied, varied_c)[config])
    firsts = ok.drop_duplicates("tcol").set_index("tcol")
    params = {c: firsts.loc[c].to_dict() for c in firsts.index}
    control_cols = list(dict.fromkeys(ok.loc[control_mask, "tcol"]))
    trained_cols = [c for c in dict.fromkeys(ok["tcol"]) if c not in control_cols]
    by_key = {_pairing_key(params[c]): c for c in control_cols}
    control_of = {c: by_key[_pairing_key(params[c])] for c in trained_cols if _pairing_key(params[c]) in by_key}
    return ok, trained_cols + control_cols, control_cols, control_of, params


def _model(rows: pd.DataFrame) -> str:
    def values(name: str) -> str:
        vals = sorted({v for v in rows[name].dropna()}) if name in rows else []
        return "/".join(f"{v:,}" if isinstance(v, int) else _fmt(v) for v in vals) or "?"

    pretrained = values("pretrained")
    mode = PRETRAINED_MODES.get(pretrained)
    how = mode.label if mode is not None else f"pretrained={pretrained}"
    steps = f"{values('steps')} steps"
    if mode is not None and mode.head_first:
        steps = f"{values('head_steps')} head + {values('steps')} all-layer steps"
    return f"{values('backbone')} {how}, {values('image_size')} px, {steps}, batch {values('batch_size')}"


def describe_models(ok: pd.DataFrame, controls: list[str]) -> str:
    """'resnet18 trained from scratch, 64 px, 512 steps, batch 16; controls: untrained resnet18 + GDE'."""
    trained = ok[~ok["tcol"].isin(controls)]
    text = _model(trained) if len(trained) else "controls only"
    ctl = ok[ok["tcol"].isin(controls)]
    if len(ctl):
        kinds = sorted({control_kind(r) for r in ctl.to_dict("records")})
        text += (f"; control{'s' if len(controls) > 1 else ''}: {' and '.join(kinds)} "
                 f"{'/'.join(sorted(set(ctl['backbone'])))} + GDE, {'/'.join(map(str, sorted(set(ctl['image_size']))))} px")
    return text
