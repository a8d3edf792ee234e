"""A full disk while probes write: no partial artifact, a clear one-line error, the checkpoint intact."""

import errno
import json
import os

import torch
from helpers.paths import CONFIGS
from helpers.runs import latest_run

from latent_probe.artifacts import files as artifacts

PROBES = json.dumps([{"class_path": "EmbeddingDumper", "init_args": {"layers": ["net.hidden_act1"], "max_samples": 50}}])


def fill_disk(monkeypatch, checkpoints_too: bool = False, after_checkpoints: int = 0):
    """Atomic writes fail at fsync as on a full disk: artifacts always; checkpoints too when asked, after the first
    ``after_checkpoints`` of them went through."""
    real_fsync, written = artifacts.os.fsync, []

    def no_space(fd):
        is_checkpoint = ".ckpt." in os.readlink(f"/proc/self/fd/{fd}")
        if is_checkpoint and (not checkpoints_too or len(written) < after_checkpoints):
            written.append(fd)
            return real_fsync(fd)
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(artifacts.os, "fsync", no_space)


def test_full_disk_leaves_no_partial_files_and_keeps_the_checkpoint(run_cli, tmp_path, monkeypatch):
    fill_disk(monkeypatch)
    result = run_cli("fit", "--config", str(CONFIGS / "quickstart.yaml"), "--probes", PROBES)
    run = latest_run(tmp_path, "quickstart")
    assert result.code == 2 and "Traceback" not in result.err
    assert result.err.strip().splitlines()[-1].startswith("latent-probe: error: disk full while writing")
    assert not [p for p in run.rglob("*") if p.name.endswith(".tmp")], "no temp file may be left behind"
    assert not (run / "probes" / "embedding_dumper" / "fit_end" / ".complete").exists()
    assert not (run / "report.html").exists()
    state = torch.load(run / "checkpoints" / "last.ckpt", weights_only=True)
    assert state["global_step"] > 0 and state["state_dict"]


def test_strict_probe_on_a_full_disk_is_one_clear_line(run_cli, tmp_path, monkeypatch):
    fill_disk(monkeypatch)
    strict = json.dumps([{"class_path": "EmbeddingDumper", "init_args": {"layers": ["net.hidden_act1"], "strict": True}}])
    result = run_cli("fit", "--config", str(CONFIGS / "quickstart.yaml"), "--probes", strict)
    assert result.code == 2 and "disk full while writing" in result.err and "Traceback" not in result.err
    assert (latest_run(tmp_path, "quickstart") / "checkpoints" / "last.ckpt").is_file()


def test_full_disk_while_writing_a_checkpoint_keeps_the_previous_one(run_cli, tmp_path, monkeypatch):
    fill_disk(monkeypatch, checkpoints_too=True, after_checkpoints=2)  # epoch 0's epoch=0-*.ckpt and last.ckpt go through
    result = run_cli("fit", "--config", str(CONFIGS / "quickstart.yaml"), "--probes", "[]", "--trainer.max_epochs=3")
    run = latest_run(tmp_path, "quickstart")
    assert result.code == 2 and "Traceback" not in result.err, result.err[-2000:]
    assert result.err.strip().splitlines()[-1].startswith("latent-probe: error: disk full while writing")
    assert not [p for p in run.rglob("*") if p.name.endswith(".tmp")], "no temp file may be left behind"
    state = torch.load(run / "checkpoints" / "last.ckpt", weights_only=True)
    assert state["epoch"] == 0 and state["global_step"] > 0, "the last complete checkpoint, not a 0-byte file"


def test_resume_removes_the_temp_file_of_a_killed_checkpoint_write(run_cli, tmp_path):
    assert run_cli("fit", "--config", str(CONFIGS / "quickstart.yaml"), "--probes", "[]").code == 0
    checkpoints = latest_run(tmp_path, "quickstart") / "checkpoints"
    stray = checkpoints / ".last.ckpt.k1ll3d.tmp"
    stray.write_bytes(b"half a checkpoint")
    resumed = run_cli("fit", "--config", str(CONFIGS / "quickstart.yaml"), "--probes", "[]", "--ckpt_path", "last",
                      "--trainer.max_epochs=2")
    assert resumed.code == 0, resumed.err[-2000:]
    assert not stray.exists() and torch.load(checkpoints / "last.ckpt", weights_only=True)["epoch"] == 1
