"""Run the real CLI (in a subprocess or shrunk in-process), find its run folders and compare what probes wrote."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from helpers.paths import TESTS

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

# What a subprocess needs to import the test models by the same paths as in-process runs
# (``helpers.probe_models.X``, ``contract_models.X``); mirrors ``pythonpath`` in pyproject's pytest options.
SUBPROCESS_ENV = {"PYTHONPATH": os.pathsep.join(
    [str(TESTS), str(TESTS / "probing"), *filter(None, [os.environ.get("PYTHONPATH")])]
)}
TINY_FIT = ["--trainer.max_epochs=1", "--trainer.limit_train_batches=3", "--trainer.enable_progress_bar=false"]


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


def fit_checkpoint(cwd: Path, experiment: str, *args: str) -> str:
    """Fit ``ARGS`` for a few batches in a subprocess (test models importable); returns its last.ckpt."""
    done = run_subprocess("fit", *args, *TINY_FIT, cwd=cwd, env=SUBPROCESS_ENV)
    assert done.returncode == 0, done.stderr[-3000:]
    return str(latest_run(cwd, experiment) / "checkpoints" / "last.ckpt")


def probe_on_one_and_two_processes(cwd: Path, experiment: str, *args: str, each: tuple = ((), ())) -> list[Path]:
    """``latent-probe probe ARGS`` with 1, then 2 CPU DDP processes (``each``: options of the first and of the second);
    returns each run's ``probes/`` folder."""
    folders = []
    for devices, own in zip((1, 2), each):
        done = run_subprocess(
            "probe", *args, *own, "--trainer.accelerator=cpu", f"--trainer.devices={devices}", "--trainer.strategy=ddp",
            "--trainer.enable_progress_bar=false", cwd=cwd, env=SUBPROCESS_ENV,
        )
        assert done.returncode == 0, done.stderr[-3000:]
        folders.append(latest_run(cwd, experiment) / "probes")
    return folders


def post_hoc_moments(folders: list[Path], name: str) -> tuple[Path, Path]:
    """Probe ``name``'s moment of the 1-process and of the 2-process run of ``probe_on_one_and_two_processes``.

    Runs on a checkpoint both write into its run (``folders`` are then one folder): the first as ``probe``, the second as
    ``probe-2``; reading ``probe`` of both would compare the first run with itself.
    """
    one, two = folders
    first, second = one / name / "probe", two / name / ("probe-2" if one == two else "probe")
    assert first.is_dir() and second.is_dir(), (first, second)
    return first, second


def assert_same_npz(first: Path, second: Path, atol: float = 1e-5) -> None:
    """Two .npz files hold the same keys and (within ``atol``) the same arrays."""
    import numpy as np

    with np.load(first) as one, np.load(second) as two:
        assert sorted(one.files) == sorted(two.files)
        for key in one.files:
            if one[key].dtype.kind in "US":
                assert one[key].tolist() == two[key].tolist(), key
            else:
                np.testing.assert_allclose(one[key], two[key], atol=atol, err_msg=f"{first.parent.name}: {key}")
