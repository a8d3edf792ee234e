"""CKA on a sample and its percentile bootstrap interval: each resample's CKA from the weighted-Gram formula equals
Kornblith's formula on the literally resampled rows (linear and RBF kernels), the bounds are those rows' percentiles,
and in a simulation with a known population CKA the 95 % interval covers it about 95 % of the time."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from helpers.cka_reference import reference_cka, reference_gram_cka, reference_rbf_gram

from latent_probe.analysis.cka_bootstrap import bootstrap_interval, gram_matrices, resample_weights, resampled_cka, sample_cka


def sample_layers(rng: np.random.Generator, n: int) -> list[np.ndarray]:
    """Two related layers and an unrelated one, with offsets."""
    x = rng.normal(size=(n, 5)) + 2.0
    return [x, np.tanh(x @ rng.normal(size=(5, 4))) + 0.5 * rng.normal(size=(n, 4)), rng.normal(size=(n, 3)) - 1.0]


def test_each_resample_equals_kornbliths_formula_on_the_resampled_rows():
    layers = sample_layers(np.random.default_rng(0), 60)
    grams = gram_matrices([torch.from_numpy(x) for x in layers])
    np.testing.assert_allclose(sample_cka(grams), [[reference_cka(a, b) for b in layers] for a in layers], rtol=0, atol=1e-12)
    weights = resample_weights(60, 40, seed=7)
    assert torch.equal(weights.sum(dim=1), torch.full((40,), 60.0))
    values = resampled_cka(grams, weights).numpy()
    rows = [np.repeat(np.arange(60), w.long().numpy()) for w in weights]
    expected = np.array([[[reference_cka(a[r], b[r]) for b in layers] for a in layers] for r in rows])
    np.testing.assert_allclose(values, expected, rtol=0, atol=2e-5)  # float32 products
    lower, upper = bootstrap_interval(grams, 40, seed=7, method="percentile")
    np.testing.assert_allclose(lower, np.quantile(expected, 0.025, axis=0), rtol=0, atol=2e-5)
    np.testing.assert_allclose(upper, np.quantile(expected, 0.975, axis=0), rtol=0, atol=2e-5)


def test_the_rbf_kernel_follows_kornbliths_median_heuristic_and_resamples_its_gram_matrix():
    layers = sample_layers(np.random.default_rng(1), 50)
    grams = gram_matrices([torch.from_numpy(x) for x in layers], kernel="rbf", rbf_sigma=0.5)
    kernels = [reference_rbf_gram(x, 0.5) for x in layers]
    np.testing.assert_allclose(sample_cka(grams), [[reference_gram_cka(a, b) for b in kernels] for a in kernels], atol=1e-12)
    weights = resample_weights(50, 20, seed=3)
    rows = [np.repeat(np.arange(50), w.long().numpy()) for w in weights]
    expected = [[[reference_gram_cka(a[r][:, r], b[r][:, r]) for b in kernels] for a in kernels] for r in rows]
    np.testing.assert_allclose(resampled_cka(grams, weights).numpy(), expected, rtol=0, atol=2e-5)
    assert 0.2 < sample_cka(grams)[0, 1] < 0.95


def test_a_constant_layer_has_no_cka_nor_interval():
    rng = np.random.default_rng(2)
    grams = gram_matrices([torch.from_numpy(rng.normal(size=(30, 3))), torch.full((30, 2), 0.1)])
    lower, upper = bootstrap_interval(grams, 50, seed=0)
    assert np.isnan(sample_cka(grams)[1]).all() and np.isnan(lower[1]).all() and np.isnan(upper[:, 1]).all()
    assert lower[0, 0] == pytest.approx(1.0) and upper[0, 0] == pytest.approx(1.0)


def coverage(features: tuple[int, int], interval: str, trials: int = 200, rows: int = 200) -> float:
    """How often the 95 % interval of ``trials`` samples of ``rows`` covers the population's linear CKA.

    x ~ N(0, diag(s^2)), y = x A + noise: the population's CKA is ||S_xy||_F^2 / (||S_xx||_F ||S_yy||_F) exactly.
    """
    (p, q), rng = features, np.random.default_rng(0)
    scales, a = np.linspace(2, 0.5, p), rng.normal(size=(p, q)) / 2
    sxx = np.diag(scales**2)
    sxy, syy = sxx @ a, a.T @ sxx @ a + np.eye(q)
    truth = np.sum(sxy**2) / np.sqrt(np.sum(sxx**2) * np.sum(syy**2))
    covered = 0
    for trial in range(trials):
        x = rng.normal(size=(rows, p)) * scales
        y = x @ a + rng.normal(size=(rows, q))
        grams = gram_matrices([torch.from_numpy(x), torch.from_numpy(y)])
        lower, upper = bootstrap_interval(grams, 1000, seed=trial, method=interval)
        covered += bool(lower[0, 1] <= truth <= upper[0, 1])
    return covered / trials


@pytest.mark.parametrize("features", [(4, 3), (10, 8)])
def test_the_basic_95_percent_interval_covers_a_known_population_cka_about_95_percent_of_the_time(one_thread, features):
    """200 samples of 200 rows: a binomial count around 95 % has a standard deviation of 1.5 points."""
    assert 0.9 <= coverage(features, "basic") <= 0.99


def test_the_percentile_interval_covers_too_rarely_when_layers_are_wider(one_thread):
    """CKA on a sample is biased upwards, a resample's more so: the percentile interval sits too high (why basic is the
    default). At 4 and 3 features it still covers about 95 %; at 10 and 8 it covers 83 % (basic, above: 96 %)."""
    assert coverage((10, 8), "percentile") < 0.9


def test_basic_bounds_reflect_the_resampled_quantiles_about_the_samples_cka():
    layers = sample_layers(np.random.default_rng(5), 40)
    grams = gram_matrices([torch.from_numpy(x) for x in layers])
    low, high = bootstrap_interval(grams, 200, seed=1, method="percentile")
    lower, upper = bootstrap_interval(grams, 200, seed=1)
    centre = sample_cka(grams)
    np.testing.assert_allclose(lower, np.clip(2 * centre - high, 0, 1), rtol=0, atol=1e-12)
    np.testing.assert_allclose(upper, np.clip(2 * centre - low, 0, 1), rtol=0, atol=1e-12)
    assert np.all((0 <= lower) & (lower <= upper) & (upper <= 1))
