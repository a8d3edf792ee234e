"""Probe state survives a resume: the moments fired and a probe's own history, keyed by probe name in the checkpoint."""

from __future__ import annotations

import json

import torch
from helpers.probe_models import DIGITS
from helpers.runs import latest_run

from latent_probe.probes import EmbeddingDumper, LinearProbe
from latent_probe.probing import ProbeRunner

LINEAR = ["--probes", json.dumps([{"class_path": "LinearProbe", "init_args": {"every_n_epochs": 1, "max_samples": 200}}])]


def test_state_is_keyed_by_probe_name_and_round_trips():
    runner = ProbeRunner([LinearProbe(name="a"), LinearProbe(name="b"), EmbeddingDumper()])
    runner.fired["a"], runner.probes[0].history = ["epoch=0000"], {"epoch=0000": {"act": 0.5}}
    restored = ProbeRunner([LinearProbe(name="a"), LinearProbe(name="b"), EmbeddingDumper()])
    restored.load_state_dict(runner.state_dict())
    assert restored.fired == {"a": ["epoch=0000"], "b": [], "embedding_dumper": []}
    assert restored.probes[0].history == {"epoch=0000": {"act": 0.5}} and restored.probes[1].history == {}
    assert runner.state_dict()["probes"]["embedding_dumper"] == {"fired": [], "interrupted": None}


def test_linear_probe_history_goes_on_after_a_resume(run_cli, tmp_path):
    assert run_cli("fit", *DIGITS, *LINEAR, "--trainer.max_epochs=2").code == 0
    run = latest_run(tmp_path, "digits")
    state = torch.load(run / "checkpoints" / "last.ckpt", weights_only=True)["callbacks"]["ProbeRunner"]["probes"]["linear_probe"]
    assert state["fired"] == ["epoch=0000", "epoch=0001"] and sorted(state["history"]) == ["epoch=0000", "epoch=0001"]
    resumed = run_cli("fit", *DIGITS, *LINEAR, "--trainer.max_epochs=3", "--ckpt_path", "last")
    assert resumed.code == 0, resumed.err[-2000:]
    assert latest_run(tmp_path, "digits") == run, "resumed in its own folder"
    metrics = json.loads((run / "probes" / "linear_probe" / "epoch=0002" / "metrics.json").read_text())
    assert sorted(metrics["history"]) == ["epoch=0000", "epoch=0001", "epoch=0002"], "history from before the resume kept"
    assert (run / "probes" / "linear_probe" / "epoch=0002" / "accuracy_vs_epoch.png").is_file()
