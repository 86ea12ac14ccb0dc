"""What analysis needs to know about a study beyond its rows: its paper table and baseline.

The launcher writes ``<results>/studies/<study>.json`` (atomically, like the sink) when a
study starts; analysis reads it to lay out the study's table, so a spec copied under a new
name keeps its layout. Older results without the file fall back to name prefixes.
"""
from __future__ import annotations

import json
from typing import Any

import pyarrow.fs as pafs

from study.results.paths import STUDIES, filesystem
from study.spec import StudySpec


def describe(spec: StudySpec, budget: str) -> dict[str, Any]:
    return {"study": spec.name, "table": spec.table, "baseline": spec.baseline, "controls": spec.controls,
            "budget": budget, "description": spec.description, "spec_path": spec.path}


def write_study_meta(results: str, spec: StudySpec, budget: str) -> str:
    fs, base = filesystem(results)
    fs.create_dir(f"{base}/{STUDIES}", recursive=True)
    final, tmp = f"{base}/{STUDIES}/{spec.name}.json", f"{base}/{STUDIES}/.{spec.name}.json.tmp"
    with fs.open_output_stream(tmp) as f:
        f.write((json.dumps(describe(spec, budget), indent=2) + "\n").encode())
    fs.move(tmp, final)
    return final


def read_study_meta(results: str) -> dict[str, dict[str, Any]]:
    """study name -> its description; empty when the results predate these files."""
    fs, base = filesystem(results)
    sel = pafs.FileSelector(f"{base}/{STUDIES}", allow_not_found=True)
    out = {}
    for info in fs.get_file_info(sel):
        if info.type == pafs.FileType.File and info.base_name.endswith(".json") \
                and not info.base_name.startswith("."):
            with fs.open_input_stream(info.path) as f:
                meta = json.loads(f.read().decode())
            out[meta["study"]] = meta
    return out
