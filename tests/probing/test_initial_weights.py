"""The engine's initial weights: a probe that declares ``needs_initial_weights`` reads its layers at the model's weights as
built (before training, before a checkpoint's weights), the model's own weights are back after, and manifests say so."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from helpers.cka_reference import digits_layers
from helpers.initial_probes import InitialAndCurrent
from helpers.probe_fits import CountingNet, fit_with_probes
from helpers.probe_models import DIGITS
from helpers.runs import latest_run
from torch import nn

from latent_probe.errors import ConfigError
from latent_probe.probes import EmbeddingDumper
from latent_probe.probing import Firing, ProbeRunner
from latent_probe.probing.initial_weights import InitialWeights, initial_weights_in, model_tensors, weights_digest

LAYERS = ["hidden_act", "bottleneck_act"]
PROBE = ["--probes", json.dumps([{"class_path": "helpers.initial_probes.InitialAndCurrent", "init_args": {"layers": LAYERS}}])]


def test_initial_activations_are_the_model_as_built_and_the_trained_weights_stay(tmp_path):
    torch.manual_seed(0)
    built = CountingNet()  # fit_with_probes seeds 0 and builds the same net
    model, probes = fit_with_probes(tmp_path, [InitialAndCurrent(layers=LAYERS, strict=True)])
    folder = probes / "initial_and_current" / "fit_end"
    with np.load(folder / "activations.npz") as npz:
        index = npz["index"]
        for layer in LAYERS:
            expected = digits_layers(built.state_dict(), index)[layer]
            np.testing.assert_allclose(npz[f"initial/{layer}"], expected, rtol=0, atol=1e-5, err_msg=layer)
        for layer in LAYERS:
            expected = digits_layers(model.state_dict(), index)[layer]
            np.testing.assert_allclose(npz[f"current/{layer}"], expected, rtol=0, atol=1e-5, err_msg=layer)
            assert not np.allclose(npz[f"initial/{layer}"], expected, atol=1e-3), "training moved the layer"
    digests = json.loads((folder / "digests.json").read_text())
    assert digests["before"] == digests["after"] == weights_digest(model_tensors(model)), "the trained weights are back"
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["initial_weights"]["digest"] == weights_digest(model_tensors(built))
    assert manifest["initial_weights"]["same_as_run_start"] is None


def test_a_pass_that_raises_leaves_the_trained_weights_and_buffers_in_place():
    net = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4))
    initial = InitialWeights(net)
    net(torch.randn(8, 3))  # training mode: the running statistics (buffers) move
    with torch.no_grad():
        net[0].weight.add_(1.0)
    trained = {name: tensor.clone() for name, tensor in model_tensors(net).items()}
    weight = net[0].weight
    with pytest.raises(ValueError, match="inside"), initial_weights_in(net, initial):
        for name, tensor in model_tensors(net).items():
            torch.testing.assert_close(tensor, initial.tensors[name], rtol=0, atol=0, msg=name)
        raise ValueError("inside the pass")
    for name, tensor in model_tensors(net).items():
        torch.testing.assert_close(tensor, trained[name], rtol=0, atol=0, msg=name)
    assert net[0].weight is weight, "copied in place: the optimizer keeps holding the same parameters"


def test_only_probes_that_declare_them_get_initial_weights():
    runner = ProbeRunner([EmbeddingDumper()])
    runner.keep_initial_weights(CountingNet())
    assert runner.initial is None, "no copy of the model unless a probe needs it"
    firing = Firing(EmbeddingDumper(), "fit_end", None, CountingNet(), None)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="needs_initial_weights = True"):
        firing.activations(weights="initial")
    with pytest.raises(ConfigError, match="weights"):
        firing.activations(weights="trained")


def test_a_resumed_run_built_otherwise_is_told_apart():
    torch.manual_seed(0)
    first = ProbeRunner([InitialAndCurrent(layers=LAYERS)])
    first.keep_initial_weights(CountingNet())
    saved = first.state_dict()
    torch.manual_seed(1)  # the resumed run builds its model with another seed
    resumed = ProbeRunner([InitialAndCurrent(layers=LAYERS)])
    resumed.keep_initial_weights(CountingNet())
    with pytest.warns(UserWarning, match="differs from the one the run started with"):
        resumed.load_state_dict(saved)
    assert resumed.initial.same_as_run_start is False
    assert resumed.state_dict()["initial_weights_digest"] == first.initial.digest, "the run's start is what is kept"


def test_post_hoc_probe_reads_the_weights_as_built_not_the_checkpoints(run_cli, tmp_path):
    assert run_cli("fit", *DIGITS, *PROBE).code == 0
    run = latest_run(tmp_path, "digits")
    result = run_cli("probe", *DIGITS, *PROBE, "--ckpt_path", str(run / "checkpoints" / "last.ckpt"))
    assert result.code == 0, result.err[-2000:]
    folders = [run / "probes" / "initial_and_current" / moment for moment in ("fit_end", "probe")]
    with np.load(folders[0] / "activations.npz") as fit, np.load(folders[1] / "activations.npz") as posthoc:
        for layer in LAYERS:
            np.testing.assert_array_equal(posthoc[f"initial/{layer}"], fit[f"initial/{layer}"])
            np.testing.assert_allclose(posthoc[f"current/{layer}"], fit[f"current/{layer}"], rtol=0, atol=1e-6)
            assert not np.allclose(posthoc[f"initial/{layer}"], posthoc[f"current/{layer}"], atol=1e-3)
    digests = [json.loads((folder / "manifest.json").read_text())["initial_weights"]["digest"] for folder in folders]
    assert digests[0] == digests[1]
