"""The package's imports are static and acyclic (issue 18, item 7).

The graph is built from the source with :mod:`ast`, every ``import`` counted, including those
inside functions (deferred to keep start-up light) and under ``TYPE_CHECKING``: a deferred
import is still a dependency, and a cycle through one is still a cycle a reader must untangle.
A ``from package import name`` edge goes to ``package.name`` when that is a module, else to
``package``. Importing a submodule runs its package's ``__init__``, but a package's own
re-exports of its children are not counted as edges from the children back up.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "wikivis"

#: the only module allowed to import by name at run time: the model registry's optional
#: extras (open_clip, timm weights packages) are looked up only when a model asks for them
DYNAMIC_IMPORT_ALLOWED = {"wikivis.embed.models"}

#: ARCHITECTURE.md's layer diagram, top first: a module imports only its own layer and those below
LAYERS = [
    ["wikivis.cli", "wikivis.demo", "wikivis.airflow_home"],
    ["wikivis.serve", "wikivis.monitoring"],
    ["wikivis.orchestration", "wikivis.runs"],
    ["wikivis.stages", "wikivis.pipeline"],
    ["wikivis.dumps", "wikivis.events", "wikivis.media", "wikivis.captions", "wikivis.embed", "wikivis.index",
     "wikivis.gates", "wikivis.recommend", "wikivis.evaluation", "wikivis.research", "wikivis.wikidata_ingest",
     "wikivis.sample", "wikivis.mirror"],
    ["wikivis.sources"],
    ["wikivis.lake", "wikivis.catalog", "wikivis.datasets", "wikivis.sqlq"],
    ["wikivis.vocab", "wikivis.config", "wikivis.errors", "wikivis.logsafe", "wikivis.testing"],
]


def _modules() -> dict[str, Path]:
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        if "__pycache__" in path.parts:
            continue
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def _resolve(module: str, is_package: bool, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    base = module.split(".")
    base = base if is_package else base[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def import_graph() -> dict[str, set[str]]:
    modules = _modules()
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        tree = ast.parse(path.read_text("utf-8"), str(path))
        is_package = path.name == "__init__.py"
        for node in ast.walk(tree):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = _resolve(name, is_package, node)
                targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base for a in node.names]
            for target in targets:
                while target and target not in modules:  # `import wikivis.x.y` of a name in x
                    target = target.rpartition(".")[0]
                if target.startswith("wikivis") and target != name and not name.startswith(target + "."):
                    graph[name].add(target)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0

    def visit(start: str) -> None:  # iterative: the graph is deep enough for recursion limits
        nonlocal counter
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))

    for name in sorted(graph):
        if name not in index:
            visit(name)
    return sorted(found)


def test_the_package_has_no_import_cycle() -> None:
    found = cycles(import_graph())
    assert not found, "import cycles (move the shared code down a layer):\n" + "\n".join(
        " <-> ".join(c) for c in found)


def _layer(module: str) -> int | None:
    for depth, members in enumerate(LAYERS):
        if any(module == m or module.startswith(m + ".") for m in members):
            return depth
    return None


def test_every_module_has_a_layer_and_imports_only_downwards() -> None:
    graph = import_graph()
    unplaced = sorted(m for m in graph if m != "wikivis" and _layer(m) is None)
    assert not unplaced, f"add these to LAYERS and ARCHITECTURE.md's diagram: {unplaced}"
    upward = sorted(f"{a} -> {b}" for a, targets in graph.items() for b in targets
                    if a != "wikivis" and b != "wikivis" and _layer(b) < _layer(a))  # type: ignore[operator]
    assert not upward, "imports that go up a layer:\n" + "\n".join(upward)


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_imports_are_static_outside_the_model_registry() -> None:
    dynamic = []
    for name, path in _modules().items():
        if name in DYNAMIC_IMPORT_ALLOWED:
            continue
        for node in ast.walk(ast.parse(path.read_text("utf-8"), str(path))):
            if isinstance(node, ast.Import | ast.ImportFrom):
                if any(a.name == "importlib" or a.name.startswith("importlib.") for a in node.names) or (
                        isinstance(node, ast.ImportFrom) and (node.module or "").startswith("importlib")):
                    dynamic.append(f"{path.relative_to(ROOT)}:{node.lineno}: imports importlib")
            elif isinstance(node, ast.Name) and node.id == "__import__":
                dynamic.append(f"{path.relative_to(ROOT)}:{node.lineno}: __import__")
    assert not dynamic, "\n".join(dynamic)
