"""The linear probe's error bars and raw-input baseline end to end: a real short fit writes them (JSON, NPZ, TensorBoard
scalars read back from the event files), equal to a float64 NumPy reference computed from the per-sample results it
wrote; the raw-input read-out agrees with scikit-learn on the same rows; inputs that are not one tensor are said."""

import json

import numpy as np
import pytest
import torch
from helpers.probe_fits import fit_with_probes
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from torch import nn

import latent_probe
from latent_probe.analysis.bootstrap import resampled_indices
from latent_probe.analysis.linear_readout import readout_accuracy
from latent_probe.artifacts.report import write_report
from latent_probe.data import DigitsDataModule
from latent_probe.errors import ConfigError
from latent_probe.probes import LinearProbe
from latent_probe.probing.input_features import input_features
from latent_probe.probing.pooling import Pooling
from latent_probe.probing.sharding import select_indices

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
    rows = {**{layer: (metrics["accuracy"][layer], *metrics["interval"][layer]) for layer in LAYERS},
            "input_baseline": (metrics["input_baseline"]["accuracy"], *metrics["input_baseline"]["interval"])}
    for key, expected in rows.items():
        logged = [events.Scalars(f"linear_probe/{key}/{name}")[-1].value for name in ("accuracy", "accuracy_low", "accuracy_high")]
        assert logged == pytest.approx(expected, abs=1e-6), key


def digits_rows(split: str, indices) -> tuple[np.ndarray, np.ndarray]:
    """The digits' inputs (flattened) and labels at ``indices`` of ``split``, read from the dataset itself."""
    spec = DigitsDataModule().data_spec()
    batch = spec.fetch(spec.dataset(split), [int(i) for i in indices])
    return batch.inputs.reshape(len(indices), -1).double().numpy(), batch.labels.numpy()


def test_the_raw_input_baseline_is_the_read_out_on_the_inputs_with_its_interval(fitted):
    folder, _ = fitted
    metrics = json.loads((folder / "metrics.json").read_text())
    baseline = metrics["input_baseline"]
    with np.load(folder / "held_out.npz") as held_out:
        index, correct = held_out["index"], held_out["input_correct"]
    assert baseline["features"] == 64 and baseline["stored"] == "flattened to 64" and baseline["method"] == "torch"
    assert baseline["accuracy"] == pytest.approx(correct.mean(), abs=1e-12)
    assert baseline["interval"] == pytest.approx(reference(correct, 500, 4), abs=1e-12)
    # scikit-learn's own logistic regression on the same raw rows: the probe's fit split sample and its held-out samples.
    train_x, train_y = digits_rows("train", select_indices(len(DigitsDataModule().data_spec().dataset("train")), 300, 4))
    eval_x, eval_y = digits_rows("val", index)
    expected, _ = readout_accuracy(train_x, train_y, eval_x, eval_y, method="sklearn")
    assert abs(baseline["accuracy"] - expected) <= 0.012, (baseline["accuracy"], expected)  # at most 2 of 180 samples


def test_wide_inputs_are_pooled_like_layers_then_averaged_to_max_features():
    images = torch.rand(5, 3, 40, 40)  # 4,800 values > 1,024: average-pooled to 3 x 18 x 18 = 972, the layers' rule
    pooled, how = input_features(images, Pooling(max_features=1024))
    assert pooled.shape == (5, 972) and how.startswith("average-pooled 3x40x40")
    signal = torch.rand(5, 3000, dtype=torch.float64)
    averaged, how = input_features(signal, Pooling(max_features=1024))
    # NumPy's reference: output i is the mean of values floor(i * 3000 / 1024) .. ceil((i + 1) * 3000 / 1024) - 1.
    edges = [(i * 3000 // 1024, -(-(i + 1) * 3000 // 1024)) for i in range(1024)]
    expected = np.stack([signal.numpy()[:, a:b].mean(axis=1) for a, b in edges], axis=1)
    assert np.abs(averaged.numpy() - expected).max() < 1e-12 and how.endswith("averaged over neighbouring values -> 1024")
    assert input_features(signal, Pooling(max_features=None))[0].shape == (5, 3000)


class TwoInputs(nn.Module):
    """``forward(a, b)`` on dict items: its inputs are no single tensor."""

    def __init__(self) -> None:
        super().__init__()
        self.layer = nn.Linear(4, 8)
        self.act = nn.ReLU()

    def forward(self, a, b):
        """Logits of a ReLU layer on ``a * b``."""
        return self.act(self.layer(a * b))


class TwoInputItems(torch.utils.data.Dataset):
    """``{"a", "b", "labels"}`` items: two input tensors and a class label."""

    def __len__(self) -> int:
        return 120

    def __getitem__(self, i: int) -> dict:
        generator = torch.Generator().manual_seed(i)
        return {"a": torch.randn(4, generator=generator), "b": torch.ones(4), "labels": i % 3}


def test_inputs_that_are_not_one_tensor_leave_the_baseline_out_and_say_so(tmp_path):
    run = latent_probe.probe(TwoInputs(), TwoInputItems(), [LinearProbe(layers=["act"], max_samples=60, strict=True)],
                             out=tmp_path / "two_inputs")
    folder = run / "probes" / "linear_probe" / "probe"
    metrics = json.loads((folder / "metrics.json").read_text())
    assert "input_baseline" not in metrics and set(metrics["interval"]) == {"act"}
    skipped = json.loads((folder / "manifest.json").read_text())["skipped"]
    assert skipped == {"input_baseline": "the inputs are not one tensor (a dict of token ids and masks, say): no raw-input baseline"}


def test_without_the_input_baseline_no_inputs_are_kept():
    assert LinearProbe(input_baseline=False).keeps_input_features is False and LinearProbe().keeps_input_features is True
    assert LinearProbe().keeps_inputs is False  # only their reduction: the pass reduces them batch by batch


@pytest.mark.parametrize(("options", "message"), [
    ({"resamples": 10}, "resamples must be >= 100 and <= 100000, got 10"),
    ({"confidence": 95}, "confidence must be >= 0.5 and <= 0.999, got 95"),
    ({"confidence": float("nan")}, "confidence must be a finite number, got nan"),
])
def test_bad_interval_options_are_refused_when_the_probe_is_made(options, message):
    with pytest.raises(ConfigError, match=message):
        LinearProbe(**options)


def test_the_report_shows_the_intervals_and_the_baseline(fitted):
    folder, run = fitted
    metrics = json.loads((folder / "metrics.json").read_text())
    page = write_report(run).read_text()
    low, high = metrics["interval"]["hidden_act"]
    assert f"<th>interval.hidden_act</th><td>[{low:.4g}, {high:.4g}]</td>" in page
    assert f"<th>linear_probe/hidden_act/accuracy_low</th><td>{low:.4g}</td>" in page  # the final metrics
    assert "<th>input_baseline.interval</th>" in page and 'alt="accuracy_vs_depth.png"' in page
