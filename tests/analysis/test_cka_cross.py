"""Linear CKA across two models (A's layers x B's) from streamed statistics: Kornblith's tr(KHLH) in float64 for any
batching, the within-model matrix of ``analysis/cka.py`` when B is A, NaN for a constant layer, and a size cap that names
the widest layer."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from helpers.cka_reference import reference_cka

from latent_probe.analysis.cka import cka_matrix, fold, initial_statistics
from latent_probe.analysis.cka_cross import (
    check_statistics_size,
    cross_cka_matrix,
    cross_statistics,
    fold_cross,
    statistics_bytes,
)
from latent_probe.errors import ConfigError


def two_models(n: int = 150) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Three layers of A and two of B on the same samples: related, of different widths, off-centre."""
    rng = np.random.default_rng(0)
    base = rng.normal(size=(n, 6)) + 2.0
    a = [base, np.tanh(base @ rng.normal(size=(6, 9))), rng.normal(size=(n, 4)) * 3 - 5]
    b = [np.tanh(base @ rng.normal(size=(6, 5))) + rng.normal(scale=0.2, size=(n, 5)), base @ rng.normal(size=(6, 6)) + 7.0]
    return a, b


def streamed(a: list[np.ndarray], b: list[np.ndarray], cuts: list[int]) -> np.ndarray:
    """The cross matrix of ``a`` and ``b`` folded in batches ending at ``cuts``."""
    stats = cross_statistics([x.shape[1] for x in a], [y.shape[1] for y in b])
    for start, end in zip([0, *cuts], [*cuts, len(a[0])]):
        fold_cross(stats, [torch.from_numpy(x[start:end]) for x in a], [torch.from_numpy(y[start:end]) for y in b])
    return cross_cka_matrix(stats)


@pytest.mark.parametrize("cuts", [[], [1], [64, 65, 149], list(range(10, 150, 10))])
def test_the_cross_matrix_equals_tr_khlh_for_any_batching(cuts):
    a, b = two_models()
    expected = np.array([[reference_cka(x, y) for y in b] for x in a])
    np.testing.assert_allclose(streamed(a, b, cuts), expected, rtol=0, atol=1e-10)


def test_a_model_against_itself_is_the_within_model_matrix():
    a, _ = two_models()
    within = initial_statistics([x.shape[1] for x in a])
    fold(within, [torch.from_numpy(x) for x in a])
    itself = streamed(a, a, [70])
    np.testing.assert_allclose(itself, cka_matrix(within), rtol=0, atol=1e-12)
    np.testing.assert_allclose(np.diag(itself), 1.0, rtol=0, atol=1e-12)


def test_a_constant_layer_gives_nan_and_sizes_are_capped():
    a, b = two_models()
    matrix = streamed([a[0], np.full((150, 3), 4.0)], b, [])
    assert np.isfinite(matrix[0]).all() and np.isnan(matrix[1]).all()
    stats = cross_statistics([3, 5], [2])
    assert statistics_bytes([3, 5], [2]) == 8 * sum(value.numel() for value in stats.values())
    with pytest.raises(ConfigError, match=r"2 x 2 layers need 0\.1 GiB.*the widest, 'wide', has 2048 features"):
        check_statistics_size({"narrow": 4, "wide": 2048}, {"narrow": 4, "wide": 2048}, limit=2**20)
    with pytest.raises(ValueError, match="same samples"):
        fold_cross(cross_statistics([3], [2]), [torch.zeros(4, 3)], [torch.zeros(5, 2)])
