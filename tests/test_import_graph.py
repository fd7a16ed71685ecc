"""The shape of chalicelib's imports: no cycles, one composition root, a lazy cold start.

The graph is read from the source (ast), function-local imports included: a lazy
import keeps the cold start short, but it must not hide a cycle. Imports under
`if TYPE_CHECKING:` are left out (they never run). Only what a module names is an edge:
the packages above it, which Python loads first, are not (every `__init__` that
re-exports its modules would be a cycle), unless it imports from them itself.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = "chalicelib"
# modules that take the whole Runtime: the entry points, which the Lambda and CLI call
ENTRY_POINTS = ("chalicelib.handlers", "chalicelib.cli")
# Lazy imports that still close a cycle, in code owned by the spec-loading work (specs/,
# sources/, the families' terraform and ansible mappings), which this test leaves to it. Each must
# still exist and still close a cycle, so its entry goes when the cycle is cut.
KNOWN_CYCLE_EDGES: Mapping[tuple[str, str], str] = {
    ("chalicelib.specs.validate", "chalicelib.specs.top_schema"): (
        "schema_named builds the top schema, and top_schema reads validate's constants"
    ),
    ("chalicelib.kinds.s3_bucket.family", "chalicelib.kinds.s3_bucket.terraform"): (
        "terraform -> sources.declared -> specs.parse -> kinds.registry -> the family"
    ),
    ("chalicelib.kinds.security_group.family", "chalicelib.kinds.security_group.terraform"): (
        "terraform -> sources.declared -> specs.parse -> kinds.registry -> the family"
    ),
    # new on main: the iam and load_balancer terraform mappings and every family's ansible
    # mapping, each loaded lazily by its family (kinds/*/family.py), closing the same cycle
    ("chalicelib.kinds.iam.family", "chalicelib.kinds.iam.terraform"): (
        "terraform -> sources.declared -> specs.parse -> kinds.registry -> the family"
    ),
    ("chalicelib.kinds.load_balancer.family", "chalicelib.kinds.load_balancer.terraform"): (
        "terraform -> sources.declared -> specs.parse -> kinds.registry -> the family"
    ),
    ("chalicelib.kinds.iam.family", "chalicelib.kinds.iam.ansible"): (
        "ansible -> sources.declared -> specs.parse -> kinds.registry -> the family"
    ),
    ("chalicelib.kinds.load_balancer.family", "chalicelib.kinds.load_balancer.ansible"): (
        "ansible -> sources.declared -> specs.parse -> kinds.registry -> the family"
    ),
    ("chalicelib.kinds.s3_bucket.family", "chalicelib.kinds.s3_bucket.ansible"): (
        "ansible -> sources.declared -> specs.parse -> kinds.registry -> the family"
    ),
    ("chalicelib.kinds.security_group.family", "chalicelib.kinds.security_group.ansible"): (
        "ansible -> sources.declared -> specs.parse -> kinds.registry -> the family"
    ),
}
LAZY_AT_COLD_START = ("boto3", "jsonschema")


@dataclass(frozen=True)
class Edge:
    target: str
    where: str  # path:line of the import


def module_names(root: Path = ROOT) -> dict[str, Path]:
    found: dict[str, Path] = {}
    for path in sorted((root / PACKAGE).rglob("*.py")):
        parts = list(path.relative_to(root).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def _type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _runtime_imports(tree: ast.AST) -> Iterator[ast.Import | ast.ImportFrom]:
    """Every import statement that can run, at any depth (functions, try, if)."""
    for child in ast.iter_child_nodes(tree):
        if isinstance(child, ast.If) and _type_checking(child):
            for other in child.orelse:
                yield from _runtime_imports(ast.Module(body=[other], type_ignores=[]))
            continue
        if isinstance(child, ast.Import | ast.ImportFrom):
            yield child
        else:
            yield from _runtime_imports(child)


def _resolve(name: str, modules: Mapping[str, Path]) -> str | None:
    while name and name not in modules:
        name = name.rpartition(".")[0]
    return name or None


def _targets(
    node: ast.Import | ast.ImportFrom, module: str, is_package: bool, modules: Mapping[str, Path]
) -> list[str | None]:
    if isinstance(node, ast.Import):
        return [_resolve(alias.name, modules) for alias in node.names]
    base = node.module or ""
    if node.level:
        package = module.split(".") if is_package else module.split(".")[:-1]
        package = package[: len(package) - (node.level - 1)]
        base = ".".join([*package, *([base] if base else [])])
    # `from pkg import sub` imports the submodule; `from mod import name` the module
    return [
        f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else _resolve(base, modules)
        for alias in node.names
    ]


def import_graph(root: Path = ROOT) -> dict[str, list[Edge]]:
    modules = module_names(root)
    graph: dict[str, list[Edge]] = {}
    for module, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        edges: dict[str, Edge] = {}
        for node in _runtime_imports(tree):
            for target in _targets(node, module, path.name == "__init__.py", modules):
                if target and target != module:
                    where = f"{path.relative_to(root)}:{node.lineno}"
                    edges.setdefault(target, Edge(target, where))
        graph[module] = list(edges.values())
    return graph


def strongly_connected(graph: Mapping[str, list[Edge]]) -> list[list[str]]:
    """Tarjan's components with more than one module (an import cycle each)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for edge in graph.get(node, ()):
            if edge.target not in index:
                visit(edge.target)
                low[node] = min(low[node], low[edge.target])
            elif edge.target in on_stack:
                low[node] = min(low[node], index[edge.target])
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

    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10 * len(graph) + 100))
    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def one_cycle(graph: Mapping[str, list[Edge]], component: list[str]) -> list[Edge]:
    """A path from the component's first module back to it, to show what to cut."""
    members = set(component)
    start = component[0]
    paths: dict[str, list[Edge]] = {start: []}
    queue = [start]
    while queue:
        node = queue.pop(0)
        for edge in graph[node]:
            if edge.target == start:
                return [*paths[node], edge]
            if edge.target in members and edge.target not in paths:
                paths[edge.target] = [*paths[node], edge]
                queue.append(edge.target)
    return []


def describe(graph: Mapping[str, list[Edge]], component: list[str]) -> str:
    path = one_cycle(graph, component)
    steps = [component[0]] + [f"  -> {edge.target}  ({edge.where})" for edge in path]
    return f"{len(component)} modules: {', '.join(component)}\n  " + "\n  ".join(steps)


def without_known_edges(graph: Mapping[str, list[Edge]]) -> dict[str, list[Edge]]:
    return {
        module: [edge for edge in edges if (module, edge.target) not in KNOWN_CYCLE_EDGES]
        for module, edges in graph.items()
    }


def test_chalicelib_has_no_import_cycle() -> None:
    graph = without_known_edges(import_graph())
    cycles = strongly_connected(graph)
    assert not cycles, "import cycles:\n" + "\n".join(describe(graph, c) for c in cycles)


def test_each_known_cycle_edge_still_closes_a_cycle_so_its_entry_gets_removed() -> None:
    graph = import_graph()
    components = [set(c) for c in strongly_connected(graph)]
    stale = [
        edge
        for edge in KNOWN_CYCLE_EDGES
        if edge[1] not in {e.target for e in graph[edge[0]]}
        or not any(set(edge) <= component for component in components)
    ]
    assert stale == [], f"no longer a cycle, remove from KNOWN_CYCLE_EDGES: {stale}"


def test_function_local_imports_count_and_type_checking_ones_do_not(tmp_path: Path) -> None:
    package = tmp_path / PACKAGE
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "a.py").write_text("def f():\n    from chalicelib.b import g\n")
    (package / "b.py").write_text("from chalicelib import a\n")
    (package / "c.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from chalicelib.a import f\n"
    )
    graph = import_graph(tmp_path)
    assert strongly_connected(graph) == [["chalicelib.a", "chalicelib.b"]]
    assert "chalicelib/a.py:2" in describe(graph, ["chalicelib.a", "chalicelib.b"])
    assert graph["chalicelib.c"] == []


def test_only_the_entry_points_import_the_runtime() -> None:
    importers = sorted(
        module
        for module, edges in import_graph().items()
        if any(edge.target == "chalicelib.runtime" for edge in edges)
    )
    below = [m for m in importers if not m.startswith(ENTRY_POINTS)]
    assert below == [], f"take the ports (chalicelib/ports.py), not the Runtime: {below}"


def test_ports_import_nothing_at_run_time() -> None:
    assert import_graph()["chalicelib.ports"] == []


def cold_start_modules() -> set[str]:
    """The modules `import app` loads, as `python -X importtime` lists them."""
    answer = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "import app"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    rows = [line.split("|") for line in answer.stderr.splitlines() if line.startswith("import")]
    return {row[-1].strip() for row in rows if len(row) == 3}


def test_the_cold_start_leaves_boto3_and_jsonschema_for_later() -> None:
    loaded = cold_start_modules()
    assert "app" in loaded and "chalicelib.handlers" in loaded  # the listing was read
    eager = sorted(
        name
        for name in loaded
        if any(name == lazy or name.startswith(f"{lazy}.") for lazy in LAZY_AT_COLD_START)
    )
    assert eager == [], f"`import app` loads {eager}: import them where they are used"
