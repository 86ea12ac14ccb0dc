"""study's shape, read from the source: Ray only under study.tune, results folders named only in
study.results.paths, and one column-name namespace that covers exactly the five tables."""
from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pytest

from study.results.paths import FOLDERS, TABLES, folder
from study.results.schema import COLUMNS, SCHEMAS, C

REPO = Path(__file__).resolve().parents[2]
STUDY = REPO / "study"
# strings equal to a folder name that are not folders under <results>, each with its reason
NOT_RESULTS_FOLDERS = {("study/tune/cluster.py", "ray"): "Ray's own temp folder, /tmp/ray/ray_current_cluster"}


def _modules() -> list[Path]:
    return sorted(STUDY.rglob("*.py"))


def _rel(path: Path) -> str:
    return path.relative_to(REPO).as_posix()


def _imports(tree: ast.AST) -> set[str]:
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and not node.level:
            out.add(node.module or "")
    return out


def test_only_study_tune_imports_ray():
    outside = sorted(_rel(p) for p in _modules() if not p.is_relative_to(STUDY / "tune")
                     and any(m == "ray" or m.startswith("ray.") for m in _imports(ast.parse(p.read_text()))))
    assert outside == [], f"Ray imported outside study/tune: {outside}"


def test_no_study_module_but_results_paths_spells_a_results_folder():
    spelled = []
    for path in _modules():
        if path == STUDY / "results" / "paths.py":
            continue
        tree = ast.parse(path.read_text())
        exported = {id(c) for node in ast.walk(tree) if isinstance(node, ast.Assign)
                    and any(isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets)
                    for c in ast.walk(node.value)}
        docstrings = {id(node.body[0].value) for node in ast.walk(tree)      # they may describe the layout
                      if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
                      and node.body and isinstance(node.body[0], ast.Expr)
                      and isinstance(node.body[0].value, ast.Constant)}
        for node in ast.walk(tree):
            if not isinstance(node, ast.Constant) or not isinstance(node.value, str) \
                    or id(node) in exported or id(node) in docstrings:
                continue
            text = node.value
            hits = [name for name in FOLDERS if text == name or f"/{name}/" in text or text.startswith(f"{name}/")
                    or text.endswith(f"/{name}")]
            hits = [h for h in hits if (_rel(path), h) not in NOT_RESULTS_FOLDERS]
            if hits:
                spelled.append(f"{_rel(path)}:{node.lineno} {text!r}")
    assert spelled == [], "use the constants of study.results.paths:\n" + "\n".join(spelled)


def test_folder_names_a_known_folder_and_refuses_a_misspelt_one(tmp_path):
    assert folder(tmp_path, "trials", "s") == f"{tmp_path.resolve()}/trials/s"
    assert folder("s3://bucket/run", "ray") == "s3://bucket/run/ray"
    with pytest.raises(ValueError, match="not a results folder"):
        folder(tmp_path, "trial")


def test_the_launcher_and_the_results_package_start_without_ray():
    code = ("import sys, study.launch, study.results, study.tune, study.tune.tracking, study.tune.progress\n"
            "assert 'ray' not in sys.modules, sorted(m for m in sys.modules if m.startswith('ray'))")
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_python_m_study_compact_is_still_the_compaction_command():
    done = subprocess.run([sys.executable, "-m", "study.compact", "--help"], cwd=REPO, capture_output=True, text=True)
    assert done.returncode == 0 and done.stdout.startswith("usage: python -m study.compact"), done.stderr


def test_every_table_has_columns_a_schema_and_a_folder():
    assert tuple(COLUMNS) == tuple(SCHEMAS) == TABLES
    for table in TABLES:
        assert tuple(SCHEMAS[table].names) == COLUMNS[table], table
        assert COLUMNS[table][0] == C.trial_key, table


def test_c_names_exactly_the_columns_of_the_five_tables_and_cannot_be_changed():
    every = {c for table in TABLES for c in COLUMNS[table]}
    assert set(C) == every
    assert all(getattr(C, name) == name for name in every)
    with pytest.raises(AttributeError):
        C.categroy                                             # noqa: B018  a typo fails at once
    with pytest.raises(AttributeError):
        C.category = "class"


def test_side_tables_are_declared_as_a_trial_reports_them(tmp_path):
    """The sink writes scores, embeddings and heatmaps with the declared types; those are the
    types Arrow gives the plain lists a trial reports, so declaring them changed no file."""
    from study.results.schema import columns_table
    from study.results.sink import ResultsSink, read_embeddings, read_heatmaps
    reported = {
        "scores": {"trial_key": ["k", "k"], "image_path": ["a.png", "b.png"], "label": [0, 1],
                   "defect_type": ["good", "crack"], "score": [0.1, 0.9]},
        "embeddings": {"trial_key": ["k", "k"], "kind": ["normal", "cutpaste"], "vector": [[0.5, 1.0], [2.0, 0.0]]},
        "heatmaps": {"trial_key": ["k"], "image_path": ["b.png"], "defect_type": ["crack"], "kind": ["patch"],
                     "size": [2], "image": [[0, 255] * 6], "mask": [[0, 1, 1, 0]], "heatmap": [[0.0, 1.5, 2.0, 0.25]]},
    }
    for table, columns in reported.items():
        assert pa.table(columns).schema.equals(SCHEMAS[table]), table
        assert columns_table(table, columns).schema.equals(SCHEMAS[table]), table
    row = {"trial_key": "k", "study": "s", "variant": "cutpaste", "category": "bottle", "seed": 0, "status": "ok"}
    ResultsSink(str(tmp_path)).write_trial(row, {k: v for k, v in reported["scores"].items() if k != "trial_key"},
                                           reported["embeddings"], reported["heatmaps"])
    assert read_embeddings(str(tmp_path))["kind"].tolist() == ["normal", "cutpaste"]
    assert read_heatmaps(str(tmp_path))["heatmap"].iloc[0].tolist() == [0.0, 1.5, 2.0, 0.25]
