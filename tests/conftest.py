"""Shared fixtures for every test folder: run the real CLI on any config, shrunk to a few CPU batches inside tmp_path.

Helpers that are not fixtures live in ``helpers/`` (``tests/`` is on ``sys.path`` through pyproject's pytest options).
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from helpers.runs import SHRINK

from latent_probe.cli import main

pytest_plugins = ["helpers.mnist_files"]  # the fake_mnist fixture


@dataclass
class CliResult:
    """Exit status and captured output of one CLI call."""

    code: int
    out: str
    err: str


@pytest.fixture
def run_cli(tmp_path, monkeypatch, capsys):
    """Call ``latent-probe`` in-process with cwd = tmp_path; returns a ``CliResult``.

    ``SHRINK`` is appended (after any config file, so it wins) except for keys the call sets itself.
    """
    monkeypatch.chdir(tmp_path)

    def run(*args: str, shrink: bool = True) -> CliResult:
        given = {a.split("=")[0] for a in args if a.startswith("--")}
        argv = [*args, *(s for s in (SHRINK if shrink else []) if s.split("=")[0] not in given)]
        code = 0
        try:
            main(argv)
        except SystemExit as stop:
            code = stop.code if isinstance(stop.code, int) else 1
        captured = capsys.readouterr()
        return CliResult(code, captured.out, captured.err)

    return run
