"""A run folder received from someone else is data: `--ckpt_path last` and `probe` into it read only regular files
inside it, never block on a FIFO, and never write or delete through a symlink that leads outside it."""

from __future__ import annotations

import os
import shutil

import pytest
from helpers.paths import CONFIGS
from helpers.runs import fit_checkpoint, run_subprocess

QUICKSTART = str(CONFIGS / "quickstart.yaml")
RUN = "runs/quickstart/version_0"


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A quickstart run of a few batches."""
    folder = tmp_path_factory.mktemp("trained")
    fit_checkpoint(folder, "quickstart", "--config", QUICKSTART)
    return folder / RUN


@pytest.fixture
def received(trained, tmp_path):
    """The trained run copied into tmp_path, with a folder outside it holding things the run must not touch."""
    shutil.copytree(trained, tmp_path / RUN)
    outside = tmp_path / "outside"
    outside.mkdir()
    shutil.copy(trained / "checkpoints" / "last.ckpt", outside / "other.ckpt")
    (outside / "keep.txt").write_text("keep me")
    return tmp_path / RUN, outside


def one_error_line(result) -> str:
    assert result.code == 2, f"exit {result.code}: {result.err[-2000:]}"
    lines = [line for line in result.err.splitlines() if line.startswith("latent-probe: error:")]
    assert len(lines) == 1 and "Traceback" not in result.err, result.err[-2000:]
    return lines[0]


@pytest.mark.parametrize("command", ["fit", "test", "validate"])
def test_last_ckpt_linked_outside_the_run_is_refused(command, received, run_cli):
    run, outside = received
    (run / "checkpoints" / "last.ckpt").unlink()
    (run / "checkpoints" / "last.ckpt").symlink_to(outside / "other.ckpt")
    line = one_error_line(run_cli(command, "--config", QUICKSTART, "--ckpt_path", "last"))
    assert "last.ckpt" in line and "symlink leading outside the run" in line


def test_a_version_folder_linked_outside_is_not_resumed(received, run_cli, tmp_path):
    run, outside = received
    shutil.copytree(run, outside / "version_1")
    (run.parent / "version_1").symlink_to(outside / "version_1", target_is_directory=True)
    before = sorted(p.name for p in (outside / "version_1").rglob("*"))
    line = one_error_line(run_cli("fit", "--config", QUICKSTART, "--ckpt_path", "last"))
    assert "version_1" in line and "outside" in line
    assert sorted(p.name for p in (outside / "version_1").rglob("*")) == before


def test_a_checkpoints_folder_linked_outside_loses_nothing(received, run_cli):
    run, outside = received
    shutil.rmtree(run / "checkpoints")
    (outside / "last.ckpt").write_bytes((outside / "other.ckpt").read_bytes())
    (outside / ".last.ckpt.123.tmp").write_text("not a stray temp file of this run")
    (run / "checkpoints").symlink_to(outside, target_is_directory=True)
    one_error_line(run_cli("fit", "--config", QUICKSTART, "--ckpt_path", "last"))
    assert (outside / ".last.ckpt.123.tmp").exists() and (outside / "keep.txt").read_text() == "keep me"


def test_a_fifo_as_last_ckpt_never_blocks(received, tmp_path):
    run, _ = received
    (run / "checkpoints" / "last.ckpt").unlink()
    os.mkfifo(run / "checkpoints" / "last.ckpt")
    done = run_subprocess("test", "--config", QUICKSTART, "--ckpt_path", "last", cwd=tmp_path, timeout=120)
    assert done.returncode == 2 and "not a regular file" in done.stderr and "Traceback" not in done.stderr, done.stderr[-2000:]


def test_probe_into_a_run_with_a_probe_folder_linked_outside_writes_nothing_there(received, run_cli):
    run, outside = received
    shutil.rmtree(run / "probes" / "layer_transform_recorder", ignore_errors=True)
    (run / "probes").mkdir(exist_ok=True)
    (run / "probes" / "layer_transform_recorder").symlink_to(outside, target_is_directory=True)
    before = sorted(p.name for p in outside.iterdir())
    line = one_error_line(run_cli("probe", "--config", f"{run}/config.yaml", "--ckpt_path", f"{run}/checkpoints/last.ckpt"))
    assert "symlink leading outside" in line and "layer_transform_recorder" in line
    assert sorted(p.name for p in outside.iterdir()) == before


def test_a_symlink_inside_the_run_is_fine(received, run_cli):
    run, _ = received
    (run / "checkpoints" / "best.ckpt").symlink_to("last.ckpt")
    result = run_cli("probe", "--config", f"{run}/config.yaml", "--ckpt_path", f"{run}/checkpoints/last.ckpt")
    assert result.code == 0, result.err[-2000:]
    assert (run / "probes" / "layer_transform_recorder" / "probe" / ".complete").is_file()
