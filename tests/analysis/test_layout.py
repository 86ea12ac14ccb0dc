"""analysis' shape, read from the source: five packages, each importing only the ones before it
(paper < stats < tables < figures < report), and no module left at the top but the CLI."""
from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
ANALYSIS = REPO / "analysis"
ORDER = ("paper", "stats", "tables", "figures", "report")     # lowest first


def _package(path: Path) -> str:
    return path.relative_to(ANALYSIS).parts[0]


def _analysis_imports(path: Path) -> set[str]:
    """The analysis packages ``path`` imports (anywhere in it, inner imports included)."""
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        names = ([a.name for a in node.names] if isinstance(node, ast.Import) else
                 [f"{node.module}.{a.name}" for a in node.names] if isinstance(node, ast.ImportFrom) and node.module
                 else [])
        out.update(n.split(".")[1] for n in names if n.startswith("analysis.") and n.count(".") >= 1)
    return out


def test_analysis_is_its_cli_and_five_packages():
    top = sorted(p.name for p in ANALYSIS.iterdir() if p.suffix == ".py" or (p.is_dir() and (p / "__init__.py").exists()))
    assert top == sorted(["__init__.py", "__main__.py", *ORDER])


def test_each_package_imports_only_the_ones_before_it():
    upward = []
    for path in sorted(ANALYSIS.rglob("*.py")):
        if path.parent == ANALYSIS:
            continue
        mine = ORDER.index(_package(path))
        upward += [f"{path.relative_to(REPO)} imports analysis.{p}" for p in _analysis_imports(path)
                   if p in ORDER and ORDER.index(p) > mine]
    assert upward == []
