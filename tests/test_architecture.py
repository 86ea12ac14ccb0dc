"""The layering, read from the source: no import cycles, no upward imports, small modules.

Layers, lowest first: ``trainables`` (data, augmentations, models, one trial) < ``study``
(specs, Ray Tune, results) < ``analysis`` (tables, figures) < ``bench`` (benchmarks, which may
import anything). Imports are read with ``ast`` from every module, including imports inside
functions; imports under ``if TYPE_CHECKING:`` are for annotations only and do not count.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
LAYERS = ("trainables", "study", "analysis", "bench")        # lowest first
SIZE_CHECKED = ("trainables", "study", "analysis")
MAX_LINES = 300            # no exemptions: split a module by job before it grows past this
# First-party imports inside functions, allowed per module with the reason (everything else
# imports at its top, so the graph above sees every dependency and no cycle can hide)
INNER_IMPORTS_ALLOWED = {
    "analysis.__main__": "each subcommand imports only what it runs: `tables` starts without the report",
    "analysis.figures.charts": "figure helpers load the control and rank modules only when that figure is drawn",
    "analysis.figures.per_image": "sample grids read a dataset (trainables) only when that figure is asked for",
    "analysis.report.build": "the HTML report pulls in figures and tables only when a report is written",
    "analysis.report.sections": "sections render lazily; report.page imports them back at its top",
    "study.launch": "Ray Tune, cluster and tracker modules load only on the path that runs them (--dry-run "
                    "and bad-input errors return before Ray is imported)",
    "study.plan": "the dataset and throughput table are read only when a plan is made",
    "study.spec": "controls import spec at their top; spec needs them only to add control trials",
    "study.tune.cluster": "results paths only for the shared-storage check of --cluster",
    "study.tune.runtime": "Tune callbacks, loggers and the trainable load when a Tuner is built, not on import",
}


def module_files() -> dict[str, Path]:
    """Dotted module name -> source file, for every module of the four packages."""
    out = {}
    for package in LAYERS:
        for path in sorted((REPO / package).rglob("*.py")):
            parts = list(path.relative_to(REPO).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            out[".".join(parts)] = path
    return out


MODULES = module_files()


def _is_type_checking(node: ast.AST) -> bool:
    test = node.test if isinstance(node, ast.If) else None
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _first_party(name: str) -> str | None:
    """The first-party module ``name`` is, or is inside (``a.b.c`` -> ``a.b`` if that is a module)."""
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def imports_of(module: str) -> set[str]:
    """First-party modules that ``module`` imports anywhere in its source (runtime imports)."""
    path = MODULES[module]
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if _is_type_checking(node):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            found.update(filter(None, (_first_party(a.name) for a in node.names)))
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:                                  # relative import
                anchor = package.split(".")[:len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            for alias in node.names:                        # "from pkg import module" names a module
                target = _first_party(f"{base}.{alias.name}") or _first_party(base)
                if target:
                    found.add(target)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(ast.parse(path.read_text(), filename=str(path)))
    found.discard(module)
    return found


GRAPH = {m: imports_of(m) for m in MODULES}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as a path ``[a, b, ..., a]``, or None when the graph is acyclic."""
    state: dict[str, int] = {}            # 1: on the current path, 2: done
    path: list[str] = []

    def dfs(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            if nxt not in state and (cycle := dfs(nxt)):
                return cycle
        path.pop()
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state and (cycle := dfs(start)):
            return cycle
    return None


def layer(module: str) -> int:
    return LAYERS.index(module.split(".")[0])


def test_the_import_graph_sees_the_packages_and_their_imports():
    """Guards the reader itself: it finds modules, function-level and ``from pkg import mod`` imports."""
    assert {"trainables.trial", "study.spec", "analysis.tables", "bench.throughput"} <= set(MODULES)
    assert "trainables.augment.ops" in GRAPH["trainables.augment.variants"]    # from trainables.augment import ops
    assert "trainables.data.generated" in GRAPH["bench.scale"]                 # imported inside a function
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_first_party_imports_have_no_cycles():
    cycle = find_cycle(GRAPH)
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_no_layer_imports_a_higher_one():
    upward = sorted(f"{m} imports {t}" for m, targets in GRAPH.items() for t in targets if layer(t) > layer(m))
    assert upward == [], "\n".join(upward)


def test_nothing_imports_bench():
    importers = sorted(m for m, targets in GRAPH.items()
                       if any(t.split(".")[0] == "bench" for t in targets) and m.split(".")[0] != "bench")
    assert importers == []


def runtime_imports(module: str) -> set[str]:
    """Every first-party module that importing ``module`` runs: what it imports, the packages
    those sit in (importing ``a.b.c`` runs ``a/__init__`` and ``a/b/__init__`` first), and so on."""
    seen: set[str] = set()
    todo = [module]
    while todo:
        for target in GRAPH[todo.pop()]:
            parts = target.split(".")
            for name in (".".join(parts[:i]) for i in range(1, len(parts) + 1)):
                if name in GRAPH and name not in seen:
                    seen.add(name)
                    todo.append(name)
    return seen


# the registries ``trainables.config`` validates against, imported at its top
CONFIG_REGISTRIES = ("trainables.augment.variants", "trainables.models.backbones", "trainables.models.density",
                     "trainables.models.pretrained")


@pytest.mark.parametrize("registry", CONFIG_REGISTRIES)
def test_the_config_imports_its_registries_and_no_registry_imports_the_config(registry):
    assert registry in runtime_imports("trainables.config")
    assert "trainables.config" not in runtime_imports(registry) | runtime_imports(registry.rpartition(".")[0])


def test_first_party_imports_inside_functions_only_where_allowed():
    """A module's dependencies are read at its top (cycles cannot hide in function bodies),
    except in the modules of ``INNER_IMPORTS_ALLOWED``, each with its reason."""
    inside = []
    for module, path in MODULES.items():
        if module.split(".")[0] not in SIZE_CHECKED or module in INNER_IMPORTS_ALLOWED:
            continue
        for fn in ast.walk(ast.parse(path.read_text())):
            if isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
                inside += [f"{module}:{node.lineno}" for node in ast.walk(fn)
                           if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] in LAYERS
                           or isinstance(node, ast.Import) and any(a.name.split(".")[0] in LAYERS for a in node.names)]
    assert inside == []


@pytest.mark.parametrize("module", sorted(m for m in MODULES if m.split(".")[0] in SIZE_CHECKED))
def test_modules_are_at_most_300_lines(module):
    lines = len(MODULES[module].read_text().splitlines())
    assert lines <= MAX_LINES, f"{module} has {lines} lines (> {MAX_LINES}); split it by job"


def _suffix_twins(names: list[str]) -> list[tuple[str, str]]:
    """Pairs of sibling module names that differ only in a short ending (tracking / trackers)."""
    out = []
    for a in names:
        for b in names:
            if a < b:
                k = len(next((a[:i] for i in range(min(len(a), len(b)), 0, -1) if a[:i] == b[:i]), ""))
                rest = (a[k:], b[k:])       # a version number (mvtec_ad, mvtec_ad2) is a real name
                if k >= 5 and max(map(len, rest)) <= 3 and not all(r.isdigit() or not r for r in rest):
                    out.append((a, b))
    return out


def test_no_module_name_differs_from_a_sibling_only_by_a_suffix():
    assert _suffix_twins(["tracking", "trackers", "report", "report_page"]) == [("trackers", "tracking")]
    siblings: dict[str, list[str]] = {}
    for module in MODULES:
        parent, _, name = module.rpartition(".")
        siblings.setdefault(parent, []).append(name)
    assert [(p, t) for p, names in siblings.items() for t in _suffix_twins(names)] == []

