"""Layering: trainables never imports study; no import cycles inside study; modest modules."""
import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
STUDY = sorted((REPO / "study").glob("*.py"))


def imported_modules(path: Path) -> set[str]:
    """Every module a file imports, at the top or inside a function."""
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.add(node.module)
            out |= {f"{node.module}.{a.name}" for a in node.names}
    return out


def test_trainables_never_imports_study():
    # benchmarks record into study's throughput table; they are leaving trainables for the
    # bench/ package, the one place allowed to import both
    for path in sorted(p for p in (REPO / "trainables").rglob("*.py") if not p.name.startswith("bench")):
        assert not [m for m in imported_modules(path) if m == "study" or m.startswith("study.")], path


def test_no_import_cycles_inside_study():
    names = {p.stem for p in STUDY}
    graph = {p.stem: {m.split(".")[1] for m in imported_modules(p)
                      if m.startswith("study.") and m.split(".")[1] in names} - {p.stem} for p in STUDY}
    state: dict[str, int] = {}

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph[node]):
            assert state.get(nxt) != 1, "import cycle: " + " -> ".join(path + [nxt])
            if nxt not in state:
                visit(nxt, path + [nxt])
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])


@pytest.mark.parametrize("path", STUDY, ids=lambda p: p.name)
def test_study_modules_stay_short_unless_they_say_they_are_one_cohesive_thing(path):
    text = path.read_text()
    doc = ast.get_docstring(ast.parse(text)) or ""
    assert len(text.splitlines()) <= 250 or "one cohesive" in doc, f"{path.name}: split it or say why not"
