"""The linear probe's bootstrap intervals end to end: a real short fit writes them (JSON, NPZ, TensorBoard scalars read
back from the event files), equal to a float64 NumPy reference computed from the per-sample results it wrote."""

import json

import numpy as np
import pytest
from helpers.probe_fits import fit_with_probes
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from latent_probe.analysis.bootstrap import resampled_indices
from latent_probe.errors import ConfigError
from latent_probe.probes import LinearProbe

LAYERS = ["hidden_act", "bottleneck_act"]


@pytest.fixture(scope="module")
def fitted(tmp_path_factory):
    """One short fit with the linear probe at fit_end: (its moment folder, the run folder)."""
    folder = tmp_path_factory.mktemp("linear_intervals")
    _, probes = fit_with_probes(folder, [LinearProbe(layers=LAYERS, max_samples=300, resamples=500, seed=4)])
    return probes / "linear_probe" / "fit_end", probes.parent


def reference(correct: np.ndarray, resamples: int, seed: int) -> tuple[float, float]:
    """The 2.5th and 97.5th percentiles of the accuracy over the documented resamples, one resample at a time."""
    indices = np.concatenate(list(resampled_indices(len(correct), resamples, seed)))
    means = np.array([correct[row].astype(np.float64).mean() for row in indices])
    low, high = np.percentile(means, [2.5, 97.5])
    return float(low), float(high)


def test_each_layer_gets_an_interval_around_its_accuracy_equal_to_the_reference(fitted):
    folder, _ = fitted
    metrics = json.loads((folder / "metrics.json").read_text())
    with np.load(folder / "held_out.npz") as held_out:
        samples = len(held_out["index"])  # the digits' whole val split (180)
        assert list(held_out["layers"]) == LAYERS and held_out["correct"].shape == (2, samples) and samples > 100
        correct = dict(zip(LAYERS, held_out["correct"]))
    assert metrics["bootstrap"] == {"confidence": 0.95, "resamples": 500, "seed": 4, "held_out_samples": samples,
                                    "resampled": "held-out samples, with replacement; the read-outs are not refitted"}
    for layer in LAYERS:
        low, high = metrics["interval"][layer]
        assert metrics["accuracy"][layer] == pytest.approx(correct[layer].mean(), abs=1e-12)
        assert (low, high) == pytest.approx(reference(correct[layer], 500, 4), abs=1e-12)
        assert low < metrics["accuracy"][layer] < high and high - low < 0.25
    assert metrics["interval_history"] == {"fit_end": metrics["interval"]}


def test_the_interval_ends_are_tensorboard_scalars(fitted):
    folder, run = fitted
    metrics = json.loads((folder / "metrics.json").read_text())
    events = EventAccumulator(str(run)).Reload()
    for layer in LAYERS:
        low, high = metrics["interval"][layer]
        assert events.Scalars(f"linear_probe/{layer}/accuracy_low")[-1].value == pytest.approx(low, abs=1e-6)
        assert events.Scalars(f"linear_probe/{layer}/accuracy_high")[-1].value == pytest.approx(high, abs=1e-6)


@pytest.mark.parametrize(("options", "message"), [
    ({"resamples": 10}, "resamples must be >= 100 and <= 100000, got 10"),
    ({"confidence": 95}, "confidence must be >= 0.5 and <= 0.999, got 95"),
    ({"confidence": float("nan")}, "confidence must be a finite number, got nan"),
])
def test_bad_interval_options_are_refused_when_the_probe_is_made(options, message):
    with pytest.raises(ConfigError, match=message):
        LinearProbe(**options)
