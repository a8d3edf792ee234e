"""Latent-space numbers: the two ways of counting active units agree with hand-made latents."""

from __future__ import annotations

import numpy as np

from latent_probe.analysis.latent_metrics import FAR_FROM_ZERO, latent_report


def test_active_units_by_variance_and_by_distance_from_zero():
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(4), 50)
    points = rng.normal(scale=0.05, size=(200, 5))  # variance 0.0025: inactive by both counts
    points[:, 0] += np.where(labels == 2, 2.0, 0.0)  # one class far from 0: active both ways
    points[:, 1] += labels * 0.1  # varies (variance ~0.0125) but no class mean beyond 0.5: active by variance only
    points[:, 2] += 0.4 * np.where(labels % 2 == 0, 1.0, -1.0)  # variance 0.16, class means ±0.4 < 0.5: variance only
    report = latent_report(points, labels, active_threshold=0.01)
    assert report["active_units"] == [0, 1, 2]
    assert report["units_far_from_zero"] == [0] and report["n_units_far_from_zero"] == 1
    assert report["far_from_zero_level"] == FAR_FROM_ZERO == 0.5
