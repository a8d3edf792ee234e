"""Permission denied and read-only folders, for real: the CLI runs without the power to bypass file modes.

Tests usually run as root, which reads and writes anything; root without ``CAP_DAC_OVERRIDE`` and
``CAP_DAC_READ_SEARCH`` is held to the mode bits like any user, so each command runs under ``setpriv``
with those two dropped (as another user the command runs as it is).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from helpers.paths import CONFIGS
from helpers.runs import SUBPROCESS_ENV, TINY_FIT, latest_run

QUICKSTART = str(CONFIGS / "quickstart.yaml")
DROP = "-dac_override,-dac_read_search"
AS_USER = [] if os.geteuid() != 0 else ["setpriv", f"--inh-caps={DROP}", f"--ambient-caps={DROP}", f"--bounding-set={DROP}"]
pytestmark = pytest.mark.skipif(os.geteuid() == 0 and not shutil.which("setpriv"), reason="root without setpriv")


def run_as_user(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    """``latent-probe ARGS`` held to file modes."""
    return subprocess.run([*AS_USER, sys.executable, "-m", "latent_probe.cli", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=300, env={**os.environ, **SUBPROCESS_ENV})


def assert_one_line(done: subprocess.CompletedProcess, *parts: str) -> None:
    """Exit 2, one error line naming every part, no traceback."""
    lines = [line for line in done.stderr.splitlines() if line.startswith("latent-probe: error:")]
    assert done.returncode == 2 and len(lines) == 1 and "Traceback" not in done.stderr, done.stderr[-3000:]
    for part in parts:
        assert part in lines[0], lines[0]


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    """A folder holding one short quickstart run (trained with full rights)."""
    folder = tmp_path_factory.mktemp("trained")
    done = subprocess.run([sys.executable, "-m", "latent_probe.cli", "fit", "--config", QUICKSTART, *TINY_FIT], cwd=folder,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return folder


def test_the_test_runner_is_really_held_to_file_modes(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("x")
    secret.chmod(0)
    done = subprocess.run([*AS_USER, sys.executable, "-c", f"open({str(secret)!r})"], capture_output=True, text=True)
    assert "PermissionError" in done.stderr


def test_an_unreadable_config(tmp_path):
    config = tmp_path / "mine.yaml"
    config.write_text(Path(QUICKSTART).read_text())
    config.chmod(0)
    assert_one_line(run_as_user("fit", "--config", str(config), *TINY_FIT, cwd=tmp_path), "mine.yaml", "ermission")
    assert not (tmp_path / "runs").exists()


def test_a_read_only_runs_folder(tmp_path):
    (tmp_path / "runs").mkdir()
    (tmp_path / "runs").chmod(0o555)
    assert_one_line(run_as_user("fit", "--config", QUICKSTART, *TINY_FIT, cwd=tmp_path), "runs", "ermission")
    assert not list((tmp_path / "runs").iterdir())


def test_an_unreadable_checkpoint(tmp_path, trained):
    checkpoint = tmp_path / "model.ckpt"
    shutil.copy(latest_run(trained, "quickstart") / "checkpoints" / "last.ckpt", checkpoint)
    checkpoint.chmod(0)
    for command in ("test", "probe", "fit"):
        assert_one_line(run_as_user(command, "--config", QUICKSTART, "--ckpt_path", str(checkpoint), *TINY_FIT, cwd=tmp_path),
                        "model.ckpt", "ermission")


def test_unreadable_weights(tmp_path, trained):
    weights = tmp_path / "weights.pt"
    state = torch.load(latest_run(trained, "quickstart") / "checkpoints" / "last.ckpt", weights_only=True)["state_dict"]
    torch.save(state, weights)
    weights.chmod(0)
    assert_one_line(run_as_user("probe", "--config", QUICKSTART, "--weights", str(weights), *TINY_FIT, cwd=tmp_path),
                    "weights.pt", "ermission")


def test_probing_a_read_only_run_loses_nothing(trained):
    run = latest_run(trained, "quickstart")
    before = {p: p.read_bytes() for p in run.rglob("*") if p.is_file()}
    for folder in [run, *(p for p in run.rglob("*") if p.is_dir())]:
        folder.chmod(0o555)
    try:
        done = run_as_user("probe", "--config", QUICKSTART, "--ckpt_path", str(run / "checkpoints" / "last.ckpt"), *TINY_FIT,
                           cwd=trained)
        report = run_as_user("report", str(run), cwd=trained)
    finally:
        for folder in [run, *(p for p in run.rglob("*") if p.is_dir())]:
            folder.chmod(0o755)
    assert_one_line(done, str(run.name), "ermission")
    assert report.returncode in (0, 2) and "Traceback" not in report.stderr, report.stderr[-3000:]
    if report.returncode == 2:
        assert_one_line(report, "report.html")
    assert {p: p.read_bytes() for p in run.rglob("*") if p.is_file()} == before
