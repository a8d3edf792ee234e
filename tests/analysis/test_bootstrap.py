"""analysis.bootstrap: percentile bootstrap intervals of mean scores, against a float64 NumPy reference, the exact
binomial law of a resampled accuracy, and their coverage of a read-out's true accuracy in a simulation."""

import numpy as np
import pytest
import torch
from scipy import stats

from latent_probe.analysis.bootstrap import BLOCK_VALUES, bootstrap_estimates, bootstrap_means, resampled_indices
from latent_probe.analysis.linear_readout import softmax_readout


def reference_interval(scores: np.ndarray, indices: np.ndarray, level: float = 0.95) -> tuple[float, float, np.ndarray]:
    """One resample at a time: the mean of the drawn scores, then NumPy's percentiles of those means (float64)."""
    means = np.array([np.mean(scores.astype(np.float64)[row]) for row in indices])
    low, high = np.percentile(means, [50 * (1 - level), 50 * (1 + level)])
    return low, high, means


@pytest.mark.parametrize("n", [1, 7, 300, 5000])  # 5000: several blocks of draws
def test_intervals_match_a_one_resample_at_a_time_reference(n):
    rng = np.random.default_rng(n)
    scores = {"correct": rng.random(n) < 0.7, "graded": rng.normal(size=n)}
    indices = np.concatenate(list(resampled_indices(n, 1000, seed=3)))
    estimates = bootstrap_estimates(scores, resamples=1000, seed=3)
    for key, values in scores.items():
        low, high, _ = reference_interval(values, indices)
        assert estimates[key].value == pytest.approx(np.mean(values.astype(np.float64)), abs=1e-12)
        assert (estimates[key].low, estimates[key].high) == pytest.approx((low, high), abs=1e-12)


def test_the_draws_come_in_bounded_blocks_and_are_seeded():
    n = 5000
    blocks = list(resampled_indices(n, 1000, seed=0))
    assert sum(len(b) for b in blocks) == 1000 and len(blocks) > 1
    assert all(b.size <= BLOCK_VALUES and b.shape[1] == n and b.min() >= 0 and b.max() < n for b in blocks)
    assert all((a == b).all() for a, b in zip(blocks, resampled_indices(n, 1000, seed=0)))
    assert not (blocks[0] == next(resampled_indices(n, 1000, seed=1))).all()


def test_a_resampled_accuracy_follows_the_binomial_law():
    # Drawing n samples with replacement from n with k correct: the resampled accuracy is Binomial(n, k/n) / n, exactly.
    n, k = 400, 300
    correct = np.zeros(n, bool)
    correct[:k] = True
    means = bootstrap_means(correct[None], resamples=20_000, seed=0)[0]
    counts = np.rint(means * n).astype(int)
    expected = stats.binom(n, k / n)
    assert counts.mean() == pytest.approx(expected.mean(), abs=0.2)
    assert counts.std() == pytest.approx(expected.std(), rel=0.03)
    for q in (0.025, 0.5, 0.975):
        assert abs(np.quantile(counts, q) - expected.ppf(q)) <= 1


def test_a_paired_difference_is_resampled_on_the_same_samples():
    rng = np.random.default_rng(0)
    trained = rng.random(500) < 0.8
    untrained = trained & (rng.random(500) < 0.6)  # strongly paired with trained
    difference = trained.astype(float) - untrained.astype(float)
    estimates = bootstrap_estimates({"trained": trained, "untrained": untrained, "difference": difference}, seed=5)
    indices = np.concatenate(list(resampled_indices(500, 1000, seed=5)))
    _, _, trained_means = reference_interval(trained, indices)
    _, _, untrained_means = reference_interval(untrained, indices)
    low, high = np.percentile(trained_means - untrained_means, [2.5, 97.5])
    assert (estimates["difference"].low, estimates["difference"].high) == pytest.approx((low, high), abs=1e-12)
    # Independent draws of the two would give a wider interval: the pairing is what makes it tight.
    independent = np.percentile(trained_means - np.random.default_rng(9).permutation(untrained_means), [2.5, 97.5])
    assert high - low < 0.8 * (independent[1] - independent[0])


def gaussian_classes(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Three overlapping Gaussian classes in 4-D (a read-out gets about 75 % of them right)."""
    labels = rng.integers(0, 3, n)
    centers = np.array([[0, 0, 0, 0], [1.6, 0, 0, 0], [0, 1.6, 0, 0]], float)
    return (centers[labels] + rng.normal(size=(n, 4))).astype(np.float32), labels


def test_intervals_cover_the_true_accuracy_and_selectivity_in_about_95_percent_of_held_out_sets():
    # A population of 100,000 samples; a read-out fitted once on 200 others (its true accuracy: on the whole population),
    # and a weak one on the first feature alone (its "untrained" partner). Each simulation draws a held-out set of 300.
    rng = np.random.default_rng(0)
    train_x, train_y = gaussian_classes(200, rng)
    population_x, population_y = gaussian_classes(100_000, rng)
    trained = softmax_readout(torch.from_numpy(train_x), torch.from_numpy(train_y), torch.from_numpy(population_x)).numpy() == population_y
    weak = softmax_readout(torch.from_numpy(train_x[:, :1]), torch.from_numpy(train_y),
                           torch.from_numpy(population_x[:, :1])).numpy() == population_y
    truth = {"accuracy": trained.mean(), "selectivity": trained.mean() - weak.mean()}
    simulations, covered = 400, {"accuracy": 0, "selectivity": 0}
    for seed in range(simulations):
        held_out = rng.integers(0, len(population_y), 300)  # i.i.d. draws: the truth is the population mean exactly
        scores = {"accuracy": trained[held_out], "selectivity": trained[held_out].astype(float) - weak[held_out]}
        for key, estimate in bootstrap_estimates(scores, seed=seed).items():
            covered[key] += estimate.low <= truth[key] <= estimate.high
    band = 3 * np.sqrt(0.95 * 0.05 / simulations)  # three binomial standard deviations around 0.95
    for key, count in covered.items():
        assert abs(count / simulations - 0.95) <= band, (key, count / simulations, truth[key])
