"""A full disk while probes write: no partial artifact, a clear one-line error, the checkpoint intact."""

import errno
import json

import torch
from helpers.paths import CONFIGS
from helpers.runs import latest_run

from latent_probe.artifacts import files as artifacts

PROBES = json.dumps([{"class_path": "EmbeddingDumper", "init_args": {"layers": ["net.hidden_act1"], "max_samples": 50}}])


def fill_disk(monkeypatch):
    """Every atomic artifact write fails at fsync as on a full disk (Lightning's checkpoint writes are untouched)."""
    def no_space(fd):
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
