"""The unbiased minibatch HSIC estimator of linear CKA (Nguyen et al., 2021): equal to a float64 NumPy reference of the
paper's formula on the same groups for any batching, unbiased where the biased HSIC is not, close to exact CKA over
many samples, and the choice between it and exact CKA."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from helpers.cka_reference import reference_hsic1, reference_minibatch_cka

from latent_probe.analysis.cka import MAX_EXACT_WIDTH, choose_method, cka_matrix, fold, initial_statistics
from latent_probe.analysis.minibatch_cka import GroupCutter, fold_groups, gram_matrices, initial_hsic, minibatch_cka, unbiased_hsic
from latent_probe.errors import ConfigError


def streamed(layers: list[np.ndarray], size: int, cuts: list[int]) -> tuple[np.ndarray, dict[str, torch.Tensor]]:
    """The estimator's matrix and sums for ``layers`` folded in batches ending at ``cuts``."""
    stats, cutter = initial_hsic(len(layers)), GroupCutter(size)
    for start, end in zip([0, *cuts], [*cuts, len(layers[0])]):
        fold_groups(stats, cutter, [torch.from_numpy(x[start:end]) for x in layers])
    return minibatch_cka(stats), stats


def related_layers(rng: np.random.Generator, n: int) -> list[np.ndarray]:
    """Three layers of different widths, two related, with offsets (so centring matters)."""
    a = rng.normal(size=(n, 7)) + 3.0
    b = np.tanh(a @ rng.normal(size=(7, 5))) + rng.normal(scale=0.3, size=(n, 5))
    return [a, b, rng.normal(size=(n, 11)) * 2 - 1]


@pytest.mark.parametrize("cuts", [[], [1], [50, 51, 119], list(range(7, 130, 7)), [3, 64, 65]])
def test_the_estimator_equals_the_papers_formula_on_the_same_groups_for_any_batching(cuts):
    layers = related_layers(np.random.default_rng(0), 130)
    matrix, stats = streamed(layers, 16, cuts)
    np.testing.assert_allclose(matrix, reference_minibatch_cka(layers, 16), rtol=0, atol=1e-7)  # float32 Gram products
    np.testing.assert_array_equal(matrix, matrix.T)
    assert int(stats["count"]) == 130 and int(stats["groups"]) == 8  # 130 = 8 x 16 + 2 left out


def test_each_groups_hsic_equals_the_reference_for_every_pair():
    rng = np.random.default_rng(1)
    layers = [x.astype(np.float32) for x in related_layers(rng, 9)]  # the smallest groups are where the terms matter most
    hsic = unbiased_hsic(gram_matrices([torch.from_numpy(x) for x in layers])).numpy()
    expected = [[reference_hsic1(a.astype(np.float64), b.astype(np.float64)) for b in layers] for a in layers]
    np.testing.assert_allclose(hsic, expected, rtol=1e-5, atol=1e-6)  # float32 products of centred features


def test_the_estimator_is_unbiased_where_the_biased_hsic_is_not():
    """x ~ N(0, I_3), y = x A + noise: the population HSIC of linear kernels is ||Cov(x, y)||_F^2 = ||A||_F^2."""
    rng = np.random.default_rng(2)
    a = rng.normal(size=(3, 4))
    size, groups = 6, 20000
    x = rng.normal(size=(groups, size, 3))
    y = x @ a + rng.normal(size=(groups, size, 4))
    grams = [torch.from_numpy(v @ v.transpose(0, 2, 1)) for v in (x, y)]
    unbiased = [float(unbiased_hsic(torch.stack([gx.fill_diagonal_(0), gy.fill_diagonal_(0)]))[0, 1])
                for gx, gy in zip(grams[0].clone(), grams[1].clone())]
    h = np.eye(size) - 1 / size
    biased = [np.trace(gx @ h @ gy @ h) / (size - 1) ** 2 for gx, gy in zip(grams[0].numpy(), grams[1].numpy())]
    truth = float(np.sum(a**2))
    error = np.std(unbiased) / np.sqrt(groups)
    assert abs(np.mean(unbiased) - truth) < 4 * error
    assert abs(np.mean(biased) - truth) > 10 * error  # the biased form is off by O(1/b) at b = 6


def test_the_estimator_is_close_to_exact_cka_over_many_samples(one_thread):
    rng = np.random.default_rng(3)
    x = rng.normal(size=(20000, 6)) * [3, 2, 1, 1, 0.5, 0.5] + 4.0
    layers = [x, np.maximum(x @ rng.normal(size=(6, 9)), 0) + rng.normal(size=(20000, 9)), rng.normal(size=(20000, 4))]
    estimate, _ = streamed(layers, 256, list(range(64, 20000, 64)))
    stats = initial_statistics([x.shape[1] for x in layers])
    fold(stats, [torch.from_numpy(x) for x in layers])
    exact = cka_matrix(stats)
    assert 0.3 < exact[0, 1] < 0.95
    np.testing.assert_allclose(estimate, exact, rtol=0, atol=0.005)


def test_a_constant_layer_has_no_cka_and_shifts_change_nothing():
    rng = np.random.default_rng(4)
    x, y = rng.normal(size=(64, 3)), rng.normal(size=(64, 5))
    y[:, 0] += x[:, 0]
    matrix, _ = streamed([x, np.full((64, 2), 0.1), y], 16, [10])
    assert np.isnan(matrix[1]).all() and np.isnan(matrix[:, 1]).all() and matrix[0, 0] == 1.0
    shifted, _ = streamed([x + 100.0, np.full((64, 2), 0.1), y * 3 - 7.0], 16, [10])
    np.testing.assert_allclose(shifted, matrix, rtol=0, atol=1e-7)


def test_the_cutter_holds_only_the_unfinished_group():
    cutter = GroupCutter(5)
    assert cutter.add([torch.zeros(3, 2)]) == []
    groups = cutter.add([torch.arange(18.0).reshape(9, 2)])
    assert [len(g[0]) for g in groups] == [5, 5] and len(cutter.pending[0]) == 2
    assert torch.equal(groups[1][0][0], torch.tensor([4.0, 5.0]))  # the 3 zero rows, then rows 0.. of the second batch
    with pytest.raises(ValueError, match="below 4"):
        GroupCutter(3)


def test_auto_chooses_the_estimator_only_for_a_layer_too_wide():
    assert choose_method("auto", {"a": 3, "b": MAX_EXACT_WIDTH}) == "exact"
    assert choose_method("auto", {"a": 3, "b": MAX_EXACT_WIDTH + 1}) == "minibatch"
    assert choose_method("minibatch", {"a": 3}) == "minibatch"
    with pytest.raises(ConfigError, match=rf"'b' has {MAX_EXACT_WIDTH + 1} features.*method to minibatch"):
        choose_method("exact", {"a": 3, "b": MAX_EXACT_WIDTH + 1})
    with pytest.raises(ConfigError, match="unknown method 'fast'; valid choices: auto, exact, minibatch"):
        choose_method("fast", {"a": 3})
