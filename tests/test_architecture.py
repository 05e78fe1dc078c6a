"""The layout's rules, read from the code's own imports (every import, also inside functions).

- no import cycle anywhere in harness/ and solver/;
- nothing but the CLI (harness/cli/) imports a `cli` module;
- the solver imports from `harness` only the profile and job-spec schemas;
- `harness` outside its CLI imports from `solver` only solution schemas;
- every solver kind is a package with the same parts.
Imports under `if TYPE_CHECKING:` count too: a cycle of types is a cycle of design.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("harness", "solver")
KINDS = ("split", "pipeline", "packing", "hybrid", "accsplit")
PARTS = ("__init__", "problem", "model", "baselines", "check", "solution", "cli")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for pkg in PACKAGES for p in sorted((ROOT / pkg).rglob("*.py"))}


def _imported_names(tree: ast.AST, here: str, is_pkg: bool) -> list[str]:
    """Every module name imported anywhere in the file (relative imports resolved)."""
    found: list[str] = []

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.Import):
            found.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                pkg = here.split(".") if is_pkg else here.split(".")[:-1]
                pkg = pkg[: len(pkg) - (node.level - 1)]
                base = ".".join([*pkg, base] if base else pkg)
            found.extend(f"{base}.{alias.name}" for alias in node.names)
            found.append(base)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return found


def _graph() -> dict[str, set[str]]:
    """module -> the project modules it imports (the most specific module each name reaches)."""
    mods = _modules()
    graph: dict[str, set[str]] = {}
    for name, path in mods.items():
        tree = ast.parse(path.read_text(), filename=str(path))
        targets = set()
        for imported in _imported_names(tree, name, path.name == "__init__.py"):
            parts = imported.split(".")
            while parts and ".".join(parts) not in mods:
                parts.pop()
            if parts and ".".join(parts) != name:
                targets.add(".".join(parts))
        graph[name] = targets
    return graph


GRAPH = _graph()


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []
    counter = 0
    for start in graph:
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on.add(start)
        while work:
            node, it = work[-1]
            nxt = next(it, None)
            if nxt is not None:
                if nxt not in index:
                    index[nxt] = low[nxt] = counter
                    counter += 1
                    stack.append(nxt)
                    on.add(nxt)
                    work.append((nxt, iter(sorted(graph.get(nxt, ())))))
                elif nxt in on:
                    low[node] = min(low[node], index[nxt])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                comp = []
                while True:
                    m = stack.pop()
                    on.discard(m)
                    comp.append(m)
                    if m == node:
                        break
                if len(comp) > 1:
                    out.append(sorted(comp))
    return out


def test_the_rules_see_the_whole_tree() -> None:
    """The graph is read from the real files, imports inside functions included (a reader that
    found no imports would pass every rule below)."""
    assert "solver.plan" in GRAPH["harness.cli.solve"]  # imported inside run_solve
    assert "solver.problem" in GRAPH["solver.plan"]
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_import_cycle() -> None:
    assert _cycles(GRAPH) == []


def test_only_the_cli_imports_a_cli_module() -> None:
    bad = [
        f"{mod} imports {dep}"
        for mod, deps in GRAPH.items()
        if not (mod == "harness.cli" or mod.startswith("harness.cli."))
        for dep in deps
        if dep.split(".")[-1] == "cli" or dep.startswith("harness.cli")
    ]
    assert bad == []


def test_the_solver_reads_only_the_schemas_of_harness() -> None:
    allowed = {"harness", "harness.profile", "harness.spec"}
    bad = [
        f"{mod} imports {dep}"
        for mod, deps in GRAPH.items()
        if mod.startswith("solver")
        for dep in deps
        if dep.startswith("harness") and dep not in allowed
    ]
    assert bad == []


def test_harness_reads_only_solution_schemas_of_the_solver() -> None:
    def allowed(dep: str) -> bool:
        return dep == "solver.solution" or (dep.startswith("solver.") and dep.endswith(".solution"))

    bad = [
        f"{mod} imports {dep}"
        for mod, deps in GRAPH.items()
        if mod.startswith("harness") and not mod.startswith("harness.cli")
        for dep in deps
        if dep.startswith("solver") and not allowed(dep)
    ]
    assert bad == []


@pytest.mark.parametrize("kind", KINDS)
def test_every_kind_has_the_same_parts(kind: str) -> None:
    missing = [p for p in PARTS if not (ROOT / "solver" / kind / f"{p}.py").is_file()]
    assert missing == []
    from solver.kinds import get_kind

    record = get_kind(kind)
    assert record.name == kind
    assert callable(record.solve)
    assert "summary" in vars(record.solution), f"{kind}: its solution has no summary()"
