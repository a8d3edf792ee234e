"""Linear classifier probes: the read-out itself, and the probe end to end (also on 2 processes)."""

import json

import numpy as np
import pytest
from helpers.probe_models import DIGITS
from helpers.runs import fit_checkpoint, latest_run, post_hoc_moments, probe_on_one_and_two_processes

from latent_probe.analysis.linear_readout import readout_accuracy


def blobs(n=400, dim=6, seed=0, separable=True):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 3, n)
    centers = rng.normal(size=(3, dim)) * (4.0 if separable else 0.0)
    return centers[labels] + rng.normal(size=(n, dim)), labels


@pytest.mark.parametrize("method", ["sklearn", "torch"])
def test_readout_separates_separable_classes_and_not_noise(method):
    x, y = blobs()
    accuracy, used = readout_accuracy(x[:300], y[:300], x[300:], y[300:], method=method)
    assert used == method and accuracy > 0.95
    noise, labels = blobs(separable=False)
    chance, _ = readout_accuracy(noise[:300], labels[:300], noise[300:], labels[300:], method=method)
    assert chance < 0.55


def digit_features(width: int):
    """Real 8x8 digits through a random ReLU layer of ``width`` units (a wide, correlated layer like a CNN's)."""
    from sklearn.datasets import load_digits

    x, y = load_digits(return_X_y=True)
    projection = np.random.default_rng(0).normal(size=(64, width))
    return np.maximum(x @ projection, 0).astype(np.float32), y


@pytest.mark.parametrize("width", [2, 64, 256])
def test_torch_readout_agrees_with_scikit_learn(width):
    x, y = digit_features(width)
    ours, _ = readout_accuracy(x[:1200], y[:1200], x[1200:], y[1200:], method="torch")
    reference, _ = readout_accuracy(x[:1200], y[:1200], x[1200:], y[1200:], method="sklearn")
    assert abs(ours - reference) <= 0.01, (ours, reference)


def test_degenerate_features_still_fit():
    # Constant, duplicated and huge-scale columns make the Gram matrix singular before the penalty.
    x, y = digit_features(64)
    x = np.concatenate([x, x[:, :8], np.zeros((len(x), 4), np.float32), x[:, :4] * 1e6], axis=1)
    accuracy, _ = readout_accuracy(x[:1200], y[:1200], x[1200:], y[1200:])
    assert accuracy > 0.85


def linear_probe(**init_args) -> list[str]:
    return ["--probes", json.dumps([{"class_path": "LinearProbe", "init_args": {"max_samples": 300, **init_args}}])]


def test_fit_writes_accuracy_per_activation_layer_and_epoch(run_cli, tmp_path):
    result = run_cli("fit", *DIGITS, *linear_probe(every_n_epochs=1), "--trainer.max_epochs=2")
    assert result.code == 0, result.err
    folder = latest_run(tmp_path, "digits") / "probes" / "linear_probe" / "fit_end"
    metrics = json.loads((folder / "metrics.json").read_text())
    assert metrics["layers_in_order"] == ["hidden_act", "bottleneck_act"]
    assert all(0 <= a <= 1 for a in metrics["accuracy"].values())
    assert list(metrics["history"]) == ["epoch=0000", "epoch=0001", "fit_end"]
    assert (folder / "accuracy_vs_depth.png").is_file() and (folder / "accuracy_vs_epoch.png").is_file()


@pytest.mark.slow
def test_ddp_two_processes_equal_one(tmp_path):
    checkpoint = fit_checkpoint(tmp_path, "digits", *DIGITS, *linear_probe())
    folders = probe_on_one_and_two_processes(tmp_path, "digits", *DIGITS, *linear_probe(), "--ckpt_path", checkpoint)
    results = [json.loads((f / "metrics.json").read_text()) for f in post_hoc_moments(folders, "linear_probe")]
    for key in ("accuracy", "interval", "untrained", "selectivity"):  # the same rows in the same order: same fits and bootstrap
        assert results[0][key] == results[1][key], key
    # Each post-hoc run fits its own baselines (a fresh probe), at its own moment: the same values, named by moment.
    baselines = [{k: v for k, v in r["input_baseline"].items() if k != "computed_at"} for r in results]
    assert baselines[0] == baselines[1]
    assert [r["input_baseline"]["computed_at"] for r in results] == ["probe", "probe-2"]
