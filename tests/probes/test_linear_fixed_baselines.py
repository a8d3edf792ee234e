"""The linear probe's baselines are fitted once per run and reused: the reused results equal freshly fitted ones, they
survive a kill and a resume, and the raw inputs are reduced batch by batch in the pass (only the reduction is kept)."""

import json
import signal

import numpy as np
import pytest
import torch
from helpers.probe_fits import fit_with_probes
from helpers.probe_models import DIGITS
from helpers.runs import SUBPROCESS_ENV, latest_run, run_subprocess
from torch import nn

import latent_probe
from latent_probe.data import DigitsDataModule
from latent_probe.probes import LinearProbe
from latent_probe.probing import Probe
from latent_probe.probing.input_features import input_features
from latent_probe.probing.pooling import Pooling

LAYERS = ["hidden_act", "bottleneck_act"]


def moment(probes, name: str, when: str) -> tuple[dict, dict]:
    """A moment's metrics.json and held_out.npz arrays."""
    folder = probes / name / when
    with np.load(folder / "held_out.npz") as npz:
        return json.loads((folder / "metrics.json").read_text()), dict(npz)


def test_reused_baselines_equal_fresh_ones_and_skip_the_initial_weights_passes(tmp_path):
    kept = LinearProbe(layers=LAYERS, max_samples=200, every_n_epochs=1, strict=True)  # epoch=0000, epoch=0001 (= fit_end)
    fresh = LinearProbe(layers=LAYERS, max_samples=200, name="fresh", strict=True)  # fit_end only: fits them anew
    model, probes = fit_with_probes(tmp_path, [kept, fresh], epochs=2)
    n = 200 + min(200, len(DigitsDataModule().dataset("val")))  # fit split + held-out samples of one moment
    # epoch=0000: trained and initial-weights passes; epoch=0001: the trained ones only (baselines reused);
    # fit_end: ``kept`` is the same firing as epoch=0001, ``fresh`` runs both.
    assert sum(model.probe_rows[1:]) == 2 * n + n + 2 * n
    first, first_arrays = moment(probes, "linear_probe", "epoch=0000")
    reused, reused_arrays = moment(probes, "linear_probe", "epoch=0001")
    again, again_arrays = moment(probes, "fresh", "fit_end")
    assert first["baselines"]["computed_at"] == "epoch=0000" and first["baselines"]["reused"] is False
    assert reused["baselines"]["computed_at"] == "epoch=0000" and reused["baselines"]["reused"] is True
    assert reused["input_baseline"]["computed_at"] == "epoch=0000" and again["baselines"]["computed_at"] == "fit_end"
    for key in ("index", "input_correct", "untrained_layers", "untrained_correct"):
        np.testing.assert_array_equal(reused_arrays[key], again_arrays[key], err_msg=key)
        np.testing.assert_array_equal(reused_arrays[key], first_arrays[key], err_msg=key)
    assert reused["untrained"] == again["untrained"] and reused["input_baseline"] == {**again["input_baseline"],
                                                                                      "computed_at": "epoch=0000"}
    assert kept.fixed is not None and kept.fixed.inputs.dtype == torch.bool and set(kept.fixed.untrained) == set(LAYERS)


def test_the_baselines_survive_a_kill_and_a_resume(tmp_path):
    probe = ["--probes", json.dumps([{"class_path": "LinearProbe", "init_args": {"every_n_epochs": 1, "max_samples": 200}}])]
    killer = ["--trainer.callbacks", json.dumps([{"class_path": "helpers.probe_models.KillAtEpochEnd", "init_args": {"epoch": 1}}])]
    killed = run_subprocess("fit", *DIGITS, *probe, *killer, "--trainer.max_epochs=3", cwd=tmp_path, env=SUBPROCESS_ENV)
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    run = latest_run(tmp_path, "digits")
    state = torch.load(run / "checkpoints" / "last.ckpt", weights_only=True)["callbacks"]["ProbeRunner"]["probes"]["linear_probe"]
    fixed = state["fixed_baselines"]
    assert fixed["moment"] == "epoch=0000" and fixed["inputs"].dtype == torch.bool and len(fixed["inputs"]) == len(fixed["index"])
    resumed = run_subprocess("fit", *DIGITS, *probe, "--trainer.max_epochs=3", "--ckpt_path", "last", cwd=tmp_path, env=SUBPROCESS_ENV)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert latest_run(tmp_path, "digits") == run
    probes = run / "probes"
    first, first_arrays = moment(probes, "linear_probe", "epoch=0000")
    last, last_arrays = moment(probes, "linear_probe", "epoch=0002")
    assert last["baselines"] == {**first["baselines"], "reused": True} and last["input_baseline"]["computed_at"] == "epoch=0000"
    for key in ("index", "input_correct", "untrained_correct"):
        np.testing.assert_array_equal(last_arrays[key], first_arrays[key], err_msg=key)
    assert last["untrained"] == first["untrained"]


class Images(torch.utils.data.Dataset):
    """40 RGB images of 40x40 (4,800 values each: wider than ``max_features``) with 2 classes."""

    def __len__(self) -> int:
        return 40

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        return torch.rand(3, 40, 40, generator=torch.Generator().manual_seed(i)), i % 2


class Kept(Probe):
    """Keeps what its firing received: the inputs reduced in the pass."""

    keeps_input_features = True

    def compute(self, firing):
        """The activations, with the inputs' reduction."""
        return firing.activations()

    def write(self, result, out):
        """Record what was received."""
        self.received = result


def test_the_pass_keeps_only_the_reduced_inputs(tmp_path):
    net = nn.Sequential(nn.Flatten(), nn.Linear(4800, 8), nn.ReLU(), nn.Linear(8, 2))
    kept = Kept(layers=["2"], split="train", max_samples=30, batch_size=7, strict=True)  # batches of 7: 5 reductions
    run = latent_probe.probe(net, Images(), [kept, LinearProbe(layers=["2"], split="train", max_samples=30, strict=True)],
                             out=tmp_path / "images")
    received = kept.received
    assert received.inputs is None, "the raw inputs are not kept"
    images = torch.stack([Images()[int(i)][0] for i in received.index])
    expected, how = input_features(images, Pooling())
    assert received.input_features.shape == (30, 972) and received.input_reduction == how
    torch.testing.assert_close(received.input_features, expected, rtol=0, atol=1e-6)
    metrics = json.loads((run / "probes" / "linear_probe" / "probe" / "metrics.json").read_text())
    assert metrics["input_baseline"]["features"] == 972 and metrics["input_baseline"]["stored"] == how == \
        "average-pooled 3x40x40 -> 3x18x18 = 972"


@pytest.mark.parametrize("state", [None, {}, {"index": [1, 2]}, {"index": torch.arange(3)}])
def test_unusable_kept_baselines_are_fitted_again(state):
    probe = LinearProbe()
    probe.load_extra_state({"history": {}, "fixed_baselines": state})
    assert probe.fixed is None and probe.keeps_input_features
