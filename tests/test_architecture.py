"""The layout's rules, checked on the source: imports flow one way, no module imports itself through others, the data
contract alone reads the datamodule, the report imports no probe, and at most four modules sit at the top of the package."""

from __future__ import annotations

import ast
import re
from collections import defaultdict

from helpers.paths import REPO

PACKAGE = REPO / "src" / "latent_probe"
# Which top-level parts each part may import (besides itself). The one-way flow of docs/architecture.md.
ALLOWED = {
    "cli": {"probes", "probing", "dataspec", "artifacts", "analysis", "viz", "models", "data", "registry", "errors", "__init__"},
    "probes": {"probing", "dataspec", "artifacts", "analysis", "viz", "registry", "errors"},
    "probing": {"dataspec", "artifacts", "analysis", "viz", "registry", "errors"},
    "artifacts": {"registry", "errors"},
    "analysis": {"registry", "errors"},
    "viz": {"registry", "errors"},
    "models": {"dataspec", "registry", "errors"},  # the data contract, not the engine
    "data": {"dataspec", "registry", "errors"},  # the data contract, not the engine
    "dataspec": {"registry", "errors"},  # below the engine: models, data and probes all read the data through it
    "registry": {"errors"},
    "errors": set(),
}


def imports(submodules: bool = False, runtime_only: bool = False) -> dict[str, set[str]]:
    """``{file (relative): {imported latent_probe modules}}``; with ``submodules``, ``from latent_probe.x import y``
    names ``latent_probe.x.y`` where ``y`` is a module (the package ``x`` itself only for names read from it); with
    ``runtime_only``, imports under ``if TYPE_CHECKING:`` (annotations only, never executed) are left out."""
    found: dict[str, set[str]] = defaultdict(set)
    for path in PACKAGE.rglob("*.py"):
        tree = ast.parse(path.read_text())
        typing_only = {id(inner) for node in ast.walk(tree) if runtime_only and is_type_checking_block(node)
                       for inner in ast.walk(node)}
        for node in ast.walk(tree):
            if id(node) in typing_only:
                continue
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("latent_probe"):
                found[path.relative_to(PACKAGE).as_posix()].update(from_import(node) if submodules else {node.module})
            elif isinstance(node, ast.Import):
                found[path.relative_to(PACKAGE).as_posix()].update(a.name for a in node.names if a.name.startswith("latent_probe"))
    return found


def is_type_checking_block(node: ast.AST) -> bool:
    """Whether ``node`` is ``if TYPE_CHECKING:`` (its imports serve annotations only)."""
    return isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING"


def from_import(node: ast.ImportFrom) -> set[str]:
    """The modules ``from m import a, b`` reads: ``m.a`` where that is a submodule, else ``m`` itself."""
    return {f"{node.module}.{alias.name}" if f"{node.module}.{alias.name}" in MODULES else str(node.module) for alias in node.names}


def module_name(file: str) -> str:
    """``probing/probe.py`` -> ``latent_probe.probing.probe``; a package's ``__init__.py`` is the package."""
    parts = ["latent_probe", *file.removesuffix(".py").split("/")]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(path.relative_to(PACKAGE).as_posix()) for path in PACKAGE.rglob("*.py")}


def part(module_or_file: str) -> str:
    name = module_or_file.removeprefix("latent_probe").lstrip(".").split(".")[0].split("/")[0]
    return (name or "__init__").removesuffix(".py")


def test_imports_flow_one_way():
    wrong = [(file, module) for file, modules in imports().items() for module in modules
             if part(file) != "__init__" and part(module) != part(file) and part(module) not in ALLOWED[part(file)]]
    assert not wrong, wrong


def test_models_and_data_use_only_the_data_contract_of_the_engine():
    used = {part(module) for file, modules in imports().items() if part(file) in ("models", "data") for module in modules}
    assert "dataspec" in used and "probing" not in used and "probes" not in used


def import_graph() -> dict[str, set[str]]:
    """``{module: {latent_probe modules it imports}}``, submodules named in ``from ... import`` included."""
    return {module_name(file): {m for m in modules if m in MODULES and m != module_name(file)}
            for file, modules in imports(submodules=True, runtime_only=True).items()}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle of ``graph`` (its modules, the first repeated at the end): a shortest way from a module back to itself."""
    for start in sorted(graph):
        came_from: dict[str, str] = {}
        frontier = [start]
        while frontier:
            following = []
            for module in frontier:
                for target in sorted(graph.get(module, ())):
                    if target == start:
                        return [*way_to(module, came_from, start), start]
                    if target not in came_from:
                        came_from[target] = module
                        following.append(target)
            frontier = following
    return None


def way_to(module: str, came_from: dict[str, str], start: str) -> list[str]:
    """The modules from ``start`` to ``module`` along ``came_from`` (each module's predecessor)."""
    way = [module]
    while way[-1] != start:
        way.append(came_from[way[-1]])
    return way[::-1]


def test_no_module_imports_itself_through_others():
    cycle = find_cycle(import_graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def test_the_cycle_check_finds_a_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None


DATA_ACCESS = re.compile(r"\.datamodule\b|[\"_](train|val|test)_dataloaders?\b|\.(val|test)_dataloaders\b")
HANDS_OVER = re.compile(r"build_data_spec\(datamodule=")  # the CLI gives its datamodule to the data spec: no reading


def test_only_the_data_spec_reads_the_datamodule():
    readers = sorted(path.relative_to(PACKAGE).as_posix() for path in PACKAGE.rglob("*.py")
                     if any(DATA_ACCESS.search(line) and not HANDS_OVER.search(line) for line in path.read_text().splitlines()))
    assert readers == ["dataspec/inference.py"]


def test_report_imports_no_probe_and_the_top_level_is_small():
    assert not any(part(module) in ("probes", "probing") for module in imports()["artifacts/report.py"])
    assert len([p for p in PACKAGE.glob("*.py")]) <= 4
