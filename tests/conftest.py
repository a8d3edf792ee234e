"""Shared fixtures: run the real CLI on any config, shrunk to a few CPU batches inside tmp_path."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from latent_probe.cli import main

REPO = Path(__file__).resolve().parents[1]
CONFIGS = REPO / "configs"
MNIST10K = REPO.parent / "shared" / "data" / "mnist10k"

# Appended to any command line so that a shipped config runs in seconds on CPU.
SHRINK = [
    "--trainer.max_epochs=1",
    "--trainer.limit_train_batches=3",
    "--trainer.limit_val_batches=2",
    "--trainer.limit_test_batches=2",
    "--trainer.accelerator=cpu",
    "--trainer.devices=1",
    "--trainer.enable_progress_bar=false",
    "--trainer.log_every_n_steps=1",
]


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


def run_subprocess(*args: str, cwd: Path, env: dict | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    """Run ``python -m latent_probe.cli ARGS`` as a real process."""
    full_env = {**os.environ, **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "latent_probe.cli", *args],
        cwd=cwd, env=full_env, capture_output=True, text=True, timeout=timeout,
    )


def latest_run(root: Path, experiment: str) -> Path:
    """The newest ``runs/<experiment>/version_N`` folder under ``root``."""
    versions = sorted((root / "runs" / experiment).glob("version_*"), key=lambda p: int(p.name.split("_")[1]))
    assert versions, f"no run folder under {root / 'runs' / experiment}"
    return versions[-1]
