"""The paper's own numbers (Li et al. 2021, arXiv 2104.04015v1), copied from its tables.

The CSVs under ``analysis/paper/reference/`` hold AUC in percent, mean and standard error over
five seeds. ``paper_value`` answers "what did the paper report for this row and column",
so table builders never parse the CSVs themselves. Rows are category names or the group
names ``texture``, ``object`` and ``all``.
"""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import pandas as pd

REFERENCE_DIR = Path(__file__).with_name("reference")
GROUPS = ("texture", "object", "all")
GRADCAM_PIXEL_AUC_ALL = 88.3     # Sec. 5.2: GradCAM on the image-level 3-way model (no per-category values)


@lru_cache(maxsize=None)
def _wide(name: str) -> pd.DataFrame:
    """Per-category tables (1, 2, 3): index = category or group name."""
    df = pd.read_csv(REFERENCE_DIR / name, comment="#")
    df["category"] = df["category"].str.replace("_avg", "", regex=False)
    return df.set_index("category")


@lru_cache(maxsize=None)
def _small() -> pd.DataFrame:
    df = pd.read_csv(REFERENCE_DIR / "tables4to8_small.csv", comment="#")
    df["table"] = df["table"].astype(str)
    return df


_WIDE_FILES = {"1": "table1_detection.csv", "2": "table2_localization.csv", "3": "table3_efficientnet.csv"}


def paper_value(table: str, row: str, column: str) -> tuple[float, float | None] | None:
    """(mean, se) in percent, or None where the paper has no such cell."""
    if table in _WIDE_FILES:
        df = _wide(_WIDE_FILES[table])
        if row not in df.index or column not in df.columns:
            if table == "2" and column == "GradCAM" and row == "all":
                return GRADCAM_PIXEL_AUC_ALL, None
            return None
        value = df.at[row, column]
        se_col = f"{column}_se"
        se = df.at[row, se_col] if se_col in df.columns else None
        return float(value), (None if se is None or pd.isna(se) else float(se))
    df = _small()
    hit = df[(df["table"] == table) & (df["row"] == row) & (df["column"] == column)]
    if hit.empty:
        return None
    se = hit["se"].iloc[0]
    return float(hit["value"].iloc[0]), (None if pd.isna(se) else float(se))
