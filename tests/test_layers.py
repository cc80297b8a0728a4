"""The house's layering, checked from the source: layers point one way.

- the plain package (``intercom_enrichment``) imports nothing of Prefect, nor the Prefect layer
  (``flows/`` and ``tasks/``, installed as ``intercom_enrichment_flows`` and
  ``intercom_enrichment_tasks``), not even lazily;
- no import cycle between its modules, nor between its subpackages (each top-level module
  counts as a unit of its own);
- the sandbox imports nothing from the rest of the package (it is a stand-in for Intercom, not
  a client of ours);
- nothing imports generic top-level ``flows`` or ``tasks`` packages, and pyproject.toml installs
  every package folder under its own name.
"""

import ast
import tomllib
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PLAIN = ROOT / "intercom_enrichment"
PREFECT_LAYER = (
    "prefect",
    "prefect_dask",
    "intercom_enrichment_flows",
    "intercom_enrichment_tasks",
)


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path) -> Iterator[str]:
    """Every module ``path`` imports, at any depth (lazy imports count; imports for type
    checkers only, under ``if TYPE_CHECKING:``, do not), as absolute names."""
    package = (
        module_name(path) if path.name == "__init__.py" else module_name(path).rsplit(".", 1)[0]
    )
    for node in _runtime_nodes(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            yield target
            yield from (f"{target}.{alias.name}" for alias in node.names)


def _runtime_nodes(tree: ast.AST) -> Iterator[ast.AST]:
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.If) and ast.unparse(node.test).endswith("TYPE_CHECKING"):
            for child in node.orelse:
                yield child
                yield from _runtime_nodes(child)
            continue
        yield node
        yield from _runtime_nodes(node)


def plain_modules() -> dict[str, set[str]]:
    """Module → the plain modules it imports (names that are modules, not attributes)."""
    files = {module_name(p): p for p in PLAIN.rglob("*.py")}
    graph = {}
    for name, path in files.items():
        # a module's own packages are imported with it anyway: not an edge
        ancestors = {name.rsplit(".", n)[0] for n in range(1, name.count(".") + 1)}
        graph[name] = {t for t in imports(path) if t in files and t != name} - ancestors
    return graph


def unit(module: str) -> str:
    """A module's subpackage (``intercom_enrichment.api``), or the module itself at top level."""
    parts = module.split(".")
    return ".".join(parts[:2])


def cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt) :], nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_the_plain_package_never_imports_prefect_or_the_prefect_layer() -> None:
    offenders = [
        f"{module_name(p)} imports {t}"
        for p in PLAIN.rglob("*.py")
        for t in imports(p)
        if t.split(".")[0] in PREFECT_LAYER
    ]
    assert offenders == []


def test_no_import_cycle_between_modules() -> None:
    assert cycle(plain_modules()) is None


def test_no_import_cycle_between_subpackages() -> None:
    units: dict[str, set[str]] = {}
    for module, targets in plain_modules().items():
        units.setdefault(unit(module), set()).update(
            unit(t) for t in targets if unit(t) != unit(module)
        )
    assert cycle(units) is None


def test_the_sandbox_stands_alone() -> None:
    sandbox = PLAIN / "sandbox"
    offenders = [
        f"{module_name(p)} imports {t}"
        for p in sandbox.rglob("*.py")
        for t in imports(p)
        if t.startswith("intercom_enrichment.") and not t.startswith("intercom_enrichment.sandbox")
    ]
    assert offenders == []


def test_nothing_imports_generic_flows_or_tasks_packages() -> None:
    offenders = [
        f"{p.relative_to(ROOT)} imports {t}"
        for folder in (
            "intercom_enrichment",
            "flows",
            "tasks",
            "tests",
            "benchmarks",
            "deployments",
        )
        for p in (ROOT / folder).rglob("*.py")
        for t in imports(p)
        if t.split(".")[0] in ("flows", "tasks")
    ]
    assert offenders == []


def test_every_package_folder_is_installed_under_its_own_name() -> None:
    setuptools = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    folders = {module_name(init) for init in PLAIN.rglob("__init__.py")} | {
        "intercom_enrichment_flows",
        "intercom_enrichment_tasks",
    }
    assert set(setuptools["packages"]) == folders
    assert setuptools["package-dir"] == {
        "intercom_enrichment_flows": "flows",
        "intercom_enrichment_tasks": "tasks",
    }
    assert not {"flows", "tasks"} & set(setuptools["packages"])


def test_the_sandbox_s_default_limit_is_intercom_s_as_the_client_knows_it() -> None:
    from intercom_enrichment.api.settings import CALLS_PER_10S
    from intercom_enrichment.sandbox.config import DEFAULT_RATE_LIMIT

    deployments = (ROOT / "deployments" / "prefect.yaml").read_text()
    assert DEFAULT_RATE_LIMIT == CALLS_PER_10S
    assert f"--limit {CALLS_PER_10S} " in deployments
