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
MAX_LINES = 260
COHESIVE = "one cohesive"


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


def test_trainables_has_no_first_party_imports_inside_functions():
    """A module's dependencies are read at its top (cycles cannot hide in function bodies)."""
    inside = []
    for module, path in MODULES.items():
        if module.split(".")[0] != "trainables":
            continue
        for fn in ast.walk(ast.parse(path.read_text())):
            if isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
                inside += [f"{module}:{node.lineno}" for node in ast.walk(fn)
                           if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] in LAYERS
                           or isinstance(node, ast.Import) and any(a.name.split(".")[0] in LAYERS for a in node.names)]
    assert inside == []


@pytest.mark.parametrize("module", sorted(m for m in MODULES if m.split(".")[0] in SIZE_CHECKED))
def test_modules_are_small_unless_their_docstring_says_they_are_one_cohesive_thing(module):
    source = MODULES[module].read_text()
    lines = len(source.splitlines())
    cohesive = COHESIVE in " ".join((ast.get_docstring(ast.parse(source)) or "").lower().split())
    assert lines <= MAX_LINES or cohesive, (
        f"{module} has {lines} lines (> {MAX_LINES}); split it by job, or say in its docstring that it is "
        f"'{COHESIVE}' ... and what it holds")
