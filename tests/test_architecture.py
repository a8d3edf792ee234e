"""The layout's rules, checked on the source: imports flow one way, the engine alone reads the datamodule, the
report imports no probe, and at most four modules sit at the top of the package."""

from __future__ import annotations

import ast
import re
from collections import defaultdict

from helpers.paths import REPO

PACKAGE = REPO / "src" / "latent_probe"
# Which top-level parts each part may import (besides itself). The one-way flow of docs/architecture.md.
ALLOWED = {
    "cli": {"probes", "probing", "artifacts", "analysis", "viz", "models", "data", "registry", "errors", "__init__"},
    "probes": {"probing", "artifacts", "analysis", "viz", "registry", "errors"},
    "probing": {"artifacts", "analysis", "viz", "registry", "errors"},
    "artifacts": {"registry", "errors"},
    "analysis": {"registry", "errors"},
    "viz": {"registry", "errors"},
    "models": {"probing", "registry", "errors"},  # the data contract only (checked below)
    "data": {"probing", "registry", "errors"},  # the data contract only (checked below)
    "registry": {"errors"},
    "errors": set(),
}


def imports() -> dict[str, set[str]]:
    """``{file (relative): {imported latent_probe modules}}``."""
    found: dict[str, set[str]] = defaultdict(set)
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("latent_probe"):
                found[path.relative_to(PACKAGE).as_posix()].add(node.module)
            elif isinstance(node, ast.Import):
                found[path.relative_to(PACKAGE).as_posix()].update(a.name for a in node.names if a.name.startswith("latent_probe"))
    return found


def part(module_or_file: str) -> str:
    name = module_or_file.removeprefix("latent_probe").lstrip(".").split(".")[0].split("/")[0]
    return (name or "__init__").removesuffix(".py")


def test_imports_flow_one_way():
    wrong = [(file, module) for file, modules in imports().items() for module in modules
             if part(file) != "__init__" and part(module) != part(file) and part(module) not in ALLOWED[part(file)]]
    assert not wrong, wrong


def test_models_and_data_use_only_the_data_contract_of_the_engine():
    used = {module for file, modules in imports().items() if part(file) in ("models", "data") for module in modules
            if part(module) == "probing"}
    assert used <= {"latent_probe.probing.data_spec", "latent_probe.probing.batches"}


DATA_ACCESS = re.compile(r"\.datamodule\b|[\"_](train|val|test)_dataloaders?\b|\.(val|test)_dataloaders\b")


def test_only_the_data_spec_reads_the_datamodule():
    readers = sorted(path.relative_to(PACKAGE).as_posix() for path in (PACKAGE / "probing").rglob("*.py")
                     if DATA_ACCESS.search(path.read_text()))
    catalogue = [path.name for path in (PACKAGE / "probes").rglob("*.py") if DATA_ACCESS.search(path.read_text())]
    assert readers == ["probing/data_spec.py"] and not catalogue


def test_report_imports_no_probe_and_the_top_level_is_small():
    assert not any(part(module) in ("probes", "probing") for module in imports()["artifacts/report.py"])
    assert len([p for p in PACKAGE.glob("*.py")]) <= 4
