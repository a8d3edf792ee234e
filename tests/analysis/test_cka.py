"""Linear CKA from streamed sufficient statistics: equal to Kornblith's Gram-matrix formula in float64 for any batching,
1 for identical layers, about 0 for independent ones, invariant to orthogonal transforms and isotropic scaling."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from helpers.cka_reference import reference_cka

from latent_probe.analysis.cka import MAX_EXACT_WIDTH, check_widths, cka_matrix, fold, initial_statistics
from latent_probe.errors import ConfigError


def streamed(layers: list[np.ndarray], cuts: list[int]) -> np.ndarray:
    """CKA matrix of ``layers`` folded in batches ending at ``cuts``."""
    stats = initial_statistics([x.shape[1] for x in layers])
    for start, end in zip([0, *cuts], [*cuts, len(layers[0])]):
        fold(stats, [torch.from_numpy(x[start:end]) for x in layers])
    return cka_matrix(stats)


def random_layers(rng: np.random.Generator, n: int = 120) -> list[np.ndarray]:
    """Three related layers of different widths (with offsets, so centring matters)."""
    a = rng.normal(size=(n, 7)) + 3.0
    b = np.tanh(a @ rng.normal(size=(7, 5))) + rng.normal(scale=0.3, size=(n, 5))
    c = rng.normal(size=(n, 11)) * 2 - 1
    return [a, b, c]


@pytest.mark.parametrize("cuts", [[], [1], [50, 51, 119], list(range(7, 120, 7)), [3, 64]])
def test_streamed_cka_equals_the_gram_matrix_formula_for_any_batching(cuts):
    layers = random_layers(np.random.default_rng(0))
    matrix = streamed(layers, cuts)
    expected = np.array([[reference_cka(x, y) for y in layers] for x in layers])
    np.testing.assert_allclose(matrix, expected, rtol=0, atol=1e-10)
    np.testing.assert_array_equal(matrix, matrix.T)


def test_float32_batches_are_accumulated_in_float64():
    layers = [x.astype(np.float32) for x in random_layers(np.random.default_rng(1))]
    expected = np.array([[reference_cka(x.astype(np.float64), y.astype(np.float64)) for y in layers] for x in layers])
    np.testing.assert_allclose(streamed(layers, [40, 80]), expected, rtol=0, atol=1e-10)


def test_identical_layers_give_one_and_independent_ones_about_zero():
    rng = np.random.default_rng(2)
    x, y = rng.normal(size=(20000, 4)), rng.normal(size=(20000, 4))
    matrix = streamed([x, x.copy(), y], [5000, 10000])
    assert matrix[0, 1] == pytest.approx(1.0, abs=1e-12)
    assert np.all(np.diag(matrix) == 1.0)
    assert abs(matrix[0, 2]) < 0.01  # E[CKA] ~ p q / (n sqrt(p q)) for independent Gaussians: 2e-4 here


def test_invariant_to_orthogonal_transforms_and_isotropic_scaling():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(200, 6)) + 1.0
    y = x @ rng.normal(size=(6, 9)) + rng.normal(size=(200, 9))
    q, _ = np.linalg.qr(rng.normal(size=(9, 9)))
    base = streamed([x, y], [64])[0, 1]
    assert 0.05 < base < 0.999
    assert streamed([x, y @ q], [64])[0, 1] == pytest.approx(base, abs=1e-10)
    assert streamed([x * 7.5, y * 0.01], [64])[0, 1] == pytest.approx(base, abs=1e-10)
    assert streamed([x + 100.0, y - 5.0], [64])[0, 1] == pytest.approx(base, abs=1e-9)  # centring is exact too


def test_a_constant_layer_has_no_cka():
    rng = np.random.default_rng(4)
    matrix = streamed([rng.normal(size=(30, 3)), np.ones((30, 2))], [10])
    assert matrix[0, 0] == 1.0
    assert np.isnan(matrix[1, 1]) and np.isnan(matrix[0, 1]) and np.isnan(matrix[1, 0])


def test_statistics_do_not_grow_with_samples():
    stats = initial_statistics([3, 5])
    assert {k: tuple(v.shape) for k, v in stats.items()} == {
        "count": (), "sum:0": (3,), "sum:1": (5,), "cross:0:0": (3, 3), "cross:0:1": (3, 5), "cross:1:1": (5, 5)}
    assert all(v.dtype == torch.float64 for v in stats.values())


def test_a_layer_too_wide_for_exact_cka_is_named():
    check_widths({"a": MAX_EXACT_WIDTH})
    with pytest.raises(ConfigError, match=r"'encoder\.conv' has 2049 features.*method to minibatch"):
        check_widths({"a": 4, "encoder.conv": MAX_EXACT_WIDTH + 1})


@pytest.mark.parametrize("value", [0.1, 0.3, 7.77])
def test_a_constant_layer_is_found_whatever_its_value_rounds_to(value):
    """tr(C) = sum x^2 - (sum x)^2 / n is a rounding error, not zero, for most constants: it must not become a CKA."""
    rng = np.random.default_rng(5)
    layers = [rng.normal(size=(300, 3)), np.full((300, 2), value, dtype=np.float32)]
    matrix = streamed(layers, [64, 128, 192, 256])
    assert matrix[0, 0] == 1.0 and np.isnan(matrix[1]).all() and np.isnan(matrix[:, 1]).all()
