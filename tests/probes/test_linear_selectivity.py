"""The linear probe's untrained baseline and selectivity: fed activations made here (the digits net trained by hand
and the same net at its constructed weights, read through forward hooks; the probe writes through the real moment
writer), and through a real fit, where the engine gives the layers at the initial weights. Checked against a float64
NumPy reference and scikit-learn."""

import copy
import json

import numpy as np
import pytest
import torch
from helpers.probe_fits import CountingNet, fit_with_probes
from helpers.probe_models import TinyDigitNet
from torch.nn import functional as F

from latent_probe.analysis.bootstrap import resampled_indices
from latent_probe.analysis.linear_readout import readout_correct
from latent_probe.data import DigitsDataModule
from latent_probe.probes import LinearProbe
from latent_probe.probes.linear import LayerData
from latent_probe.probing import prepare_probes
from latent_probe.probing.moment_output import write_moment
from latent_probe.probing.sharding import select_indices

LAYERS = ["hidden_act", "bottleneck_act"]


def digits(split: str, samples: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """A seeded sample of a digits split: dataset indices, inputs and labels."""
    spec = DigitsDataModule().data_spec()
    index = select_indices(len(spec.dataset(split)), samples, 0)
    batch = spec.fetch(spec.dataset(split), index.tolist())
    return index, batch.inputs, batch.labels


def layer_outputs(model: torch.nn.Module, x: torch.Tensor) -> dict[str, torch.Tensor]:
    """The outputs of ``LAYERS`` on ``x``, flattened, copied at hook time (hidden_act is an in-place ReLU)."""
    outputs, modules = {}, dict(model.named_modules())
    hooks = [modules[name].register_forward_hook(lambda _m, _i, out, name=name: outputs.__setitem__(name, out.flatten(1).clone()))
             for name in LAYERS]
    try:
        with torch.no_grad():
            model.eval()(x)
    finally:
        for hook in hooks:
            hook.remove()
    return outputs


@pytest.fixture(scope="module")
def nets():
    """The digits net at its constructed weights and a copy trained from them by hand (full batch, 300 Adam steps)."""
    torch.manual_seed(0)
    initial = TinyDigitNet()
    trained = copy.deepcopy(initial)
    _, x, y = digits("train", 800)
    optimizer = torch.optim.Adam(trained.parameters(), lr=0.02)
    for _ in range(300):
        optimizer.zero_grad()
        F.cross_entropy(trained(x), y).backward()
        optimizer.step()
    return initial, trained


@pytest.fixture(scope="module")
def written(nets, tmp_path_factory):
    """The probe's moment written from hand-made activations of both nets: (metrics.json, held_out.npz arrays, data)."""
    initial, trained = nets
    (_, train_x, train_y), (index, eval_x, eval_y) = digits("train", 600), digits("val", 180)
    data = LayerData(train=layer_outputs(trained, train_x), train_label=train_y, evaluation=layer_outputs(trained, eval_x),
                     evaluation_label=eval_y, evaluation_index=index,
                     untrained=(layer_outputs(initial, train_x), layer_outputs(initial, eval_x)))
    probe = LinearProbe(layers=LAYERS, input_baseline=False, untrained_baseline=False, seed=2)
    prepare_probes([probe], TinyDigitNet(), DigitsDataModule().data_spec())
    folder = tmp_path_factory.mktemp("selectivity")
    write_moment(folder, probe, "probe", 0, data, None)
    moment = folder / "probes" / "linear_probe" / "probe"
    with np.load(moment / "held_out.npz") as npz:
        arrays = dict(npz)
    return json.loads((moment / "metrics.json").read_text()), arrays, data


def test_the_untrained_read_out_is_fitted_on_the_initial_weights_activations(written):
    metrics, arrays, data = written
    assert list(arrays["untrained_layers"]) == LAYERS
    for k, layer in enumerate(LAYERS):
        train, held_out = (part[layer].double() for part in data.untrained)
        expected, _ = readout_correct(train, data.train_label, held_out, data.evaluation_label, method="sklearn")
        ours = arrays["untrained_correct"][k]
        assert metrics["untrained"][layer]["accuracy"] == pytest.approx(ours.mean(), abs=1e-12)
        assert abs(ours.mean() - expected.mean()) <= 0.012, (layer, ours.mean(), expected.mean())  # 2 of 180 samples


def test_selectivity_is_trained_minus_untrained_with_a_paired_interval(written):
    metrics, arrays, _ = written
    indices = np.concatenate(list(resampled_indices(180, 1000, seed=2)))
    for k, layer in enumerate(LAYERS):
        trained, untrained = arrays["correct"][k].astype(np.float64), arrays["untrained_correct"][k].astype(np.float64)
        selectivity = metrics["selectivity"][layer]
        assert selectivity["value"] == pytest.approx(metrics["accuracy"][layer] - metrics["untrained"][layer]["accuracy"], abs=1e-12)
        differences = np.array([trained[row].mean() - untrained[row].mean() for row in indices])
        assert selectivity["interval"] == pytest.approx(np.percentile(differences, [2.5, 97.5]), abs=1e-12)
        untrained_means = np.array([untrained[row].mean() for row in indices])
        assert metrics["untrained"][layer]["interval"] == pytest.approx(np.percentile(untrained_means, [2.5, 97.5]), abs=1e-12)
    # Training made both layers more decodable than at their initial weights, by more than the sampling spread.
    assert all(metrics["selectivity"][layer]["interval"][0] > 0 for layer in LAYERS), metrics["selectivity"]


def test_without_untrained_activations_there_is_no_selectivity(nets, tmp_path):
    _, trained = nets
    (_, train_x, train_y), (index, eval_x, eval_y) = digits("train", 300), digits("val", 100)
    data = LayerData(train=layer_outputs(trained, train_x), train_label=train_y, evaluation=layer_outputs(trained, eval_x),
                     evaluation_label=eval_y, evaluation_index=index)
    probe = LinearProbe(layers=LAYERS, input_baseline=False, untrained_baseline=False)
    prepare_probes([probe], TinyDigitNet(), DigitsDataModule().data_spec())
    write_moment(tmp_path, probe, "probe", 0, data, None)
    metrics = json.loads((tmp_path / "probes" / "linear_probe" / "probe" / "metrics.json").read_text())
    assert "untrained" not in metrics and "selectivity" not in metrics and set(metrics["interval"]) == set(LAYERS)


def test_a_real_fit_reads_the_untrained_baseline_at_the_weights_the_run_started_from(tmp_path):
    torch.manual_seed(0)  # fit_with_probes builds its net right after the same seed: these are its initial weights
    initial = CountingNet()
    _, probes = fit_with_probes(tmp_path, [LinearProbe(layers=LAYERS, input_baseline=False, max_samples=300, seed=0)], epochs=2)
    moment = probes / "linear_probe" / "fit_end"
    metrics = json.loads((moment / "metrics.json").read_text())
    manifest = json.loads((moment / "manifest.json").read_text())
    with np.load(moment / "held_out.npz") as npz:
        arrays = dict(npz)
    (_, train_x, train_y), (index, eval_x, eval_y) = digits("train", 300), digits("val", 300)
    assert np.array_equal(arrays["index"], index.numpy())
    train, held_out = layer_outputs(initial, train_x), layer_outputs(initial, eval_x)
    for k, layer in enumerate(LAYERS):
        expected, _ = readout_correct(train[layer].double(), train_y, held_out[layer].double(), eval_y, method="sklearn")
        ours = arrays["untrained_correct"][k]
        assert abs(ours.mean() - expected.mean()) <= 2 / len(ours) + 1e-12, (layer, ours.mean(), expected.mean())
        assert metrics["selectivity"][layer]["value"] == pytest.approx(
            metrics["accuracy"][layer] - metrics["untrained"][layer]["accuracy"], abs=1e-12)
    assert manifest["initial_weights"]["taken"], manifest
