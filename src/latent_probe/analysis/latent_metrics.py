"""Latent-space numbers for a set of embeddings (how well a VAE's latent means separate the classes): class
centroids, their distances, nearest-centroid shares, active units, and a k-means baseline."""

from __future__ import annotations

import numpy as np


def class_centroids(points: np.ndarray, labels: np.ndarray, classes: np.ndarray) -> np.ndarray:
    """Mean point of each class, ``(n_classes, dim)``."""
    return np.stack([points[labels == c].mean(axis=0) for c in classes])


def pairwise_distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Euclidean distance between every row of ``a`` and every row of ``b``."""
    squared = (a * a).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2.0 * a @ b.T
    return np.sqrt(np.maximum(squared, 0.0))


def nearest_centroid_share(points: np.ndarray, labels: np.ndarray, classes: np.ndarray, centroids: np.ndarray) -> np.ndarray:
    """Per class, the share of its points whose nearest centroid is their own class's."""
    nearest = classes[pairwise_distances(points, centroids).argmin(axis=1)]
    return np.array([(nearest[labels == c] == c).mean() for c in classes])


def active_units(points: np.ndarray, threshold: float) -> np.ndarray:
    """Indices of the dimensions whose variance over the data exceeds ``threshold``."""
    return np.nonzero(points.var(axis=0) > threshold)[0]


def units_far_from_zero(centroids: np.ndarray, level: float) -> np.ndarray:
    """Dimensions on which some class's mean is farther than ``level`` from 0, the prior's mean: the units a per-digit
    plot of the latent values shows away from 0 (the VAE article's count, made a rule)."""
    return np.nonzero((np.abs(centroids) > level).any(axis=0))[0]


def kmeans_accuracy(points: np.ndarray, labels: np.ndarray, n_clusters: int, seed: int = 0) -> float:
    """Accuracy of k-means clusters mapped one-to-one to classes (Hungarian matching)."""
    # One k-means++ start (scikit-learn's own default): ten cost ten times as much for a baseline figure.
    from sklearn.cluster import KMeans  # here: scikit-learn takes 0.5 s to import, and most runs never cluster

    clusters = KMeans(n_clusters=n_clusters, n_init=1, random_state=seed).fit_predict(points)
    classes = np.unique(labels)
    counts = np.zeros((n_clusters, len(classes)))
    for k in range(n_clusters):
        for j, c in enumerate(classes):
            counts[k, j] = np.sum((clusters == k) & (labels == c))
    from scipy.optimize import linear_sum_assignment  # here, like KMeans: an import paid only when used

    rows, cols = linear_sum_assignment(-counts)
    return float(counts[rows, cols].sum() / len(labels))


FAR_FROM_ZERO = 0.5  # half the prior's standard deviation


def latent_report(points: np.ndarray, labels: np.ndarray, active_threshold: float) -> dict:
    """All the latent-space numbers for one embedding, as plain lists (JSON-ready).

    Active units are counted as the VAE literature does (Burda et al. 2016: the variance over the data of a unit's
    latent mean above ``active_threshold``, 0.01 there) and as the VAE article sees them (``units_far_from_zero``).
    """
    classes = np.unique(labels)
    centroids = class_centroids(points, labels, classes)
    share = nearest_centroid_share(points, labels, classes, centroids)
    active = active_units(points, active_threshold)
    own_distance = np.linalg.norm(points - centroids[np.searchsorted(classes, labels)], axis=1)
    return {
        "classes": classes.tolist(),
        "centroids": centroids.tolist(),
        "centroid_distances": pairwise_distances(centroids, centroids).tolist(),
        "nearest_centroid_share": share.tolist(),
        "nearest_centroid_share_mean": float(share.mean()),
        "distance_to_own_centroid_mean": [float(own_distance[labels == c].mean()) for c in classes],
        "active_units": active.tolist(),
        "n_active_units": int(len(active)),
        "active_threshold": active_threshold,
        "units_far_from_zero": (far := units_far_from_zero(centroids, FAR_FROM_ZERO)).tolist(),
        "n_units_far_from_zero": int(len(far)),
        "far_from_zero_level": FAR_FROM_ZERO,
        "dim": int(points.shape[1]),
        "n_samples": int(len(points)),
    }


def baseline_report(inputs: np.ndarray, labels: np.ndarray, seed: int = 0) -> dict:
    """The same nearest-centroid share on the raw inputs, and k-means cluster accuracy on them."""
    classes = np.unique(labels)
    centroids = class_centroids(inputs, labels, classes)
    share = nearest_centroid_share(inputs, labels, classes, centroids)
    return {
        "nearest_centroid_share": share.tolist(),
        "nearest_centroid_share_mean": float(share.mean()),
        "kmeans_accuracy": kmeans_accuracy(inputs, labels, n_clusters=len(classes), seed=seed),
    }
