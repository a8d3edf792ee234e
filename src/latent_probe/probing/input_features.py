"""The raw inputs as read-out features: reduced per batch in the pass, so a probe that reads them (the linear probe's
raw-input baseline) never holds the full inputs of its sample (2,000 images of 3x224x224 are 1.2 GB in float32).

The rule: pooled like the layers (``pooling.py``), then, when still wider than ``max_features`` (a long flat input such
as a signal), averaged over runs of neighbouring values to fit. Both steps act on each sample alone, so reducing batch
by batch gives the same features as reducing the whole sample at once.
"""

from __future__ import annotations

import torch
from torch.nn import functional as F

from latent_probe.probing.pooling import Pooling


def input_features(inputs: torch.Tensor, pooling: Pooling) -> tuple[torch.Tensor, str]:
    """The raw inputs ``(N, ...)`` as features ``(N, width)``, and what was done to them (for the manifest and metrics)."""
    inputs = inputs if inputs.is_floating_point() else inputs.float()  # images stored as bytes pool like any other
    features, how = pooling(inputs), pooling.describe(tuple(inputs.shape[1:]))
    limit = pooling.max_features
    if limit is not None and features.shape[1] > limit:  # the read-out's Gram matrix grows with the square of the width
        features = F.adaptive_avg_pool1d(features[:, None], limit)[:, 0]
        how = f"{how}, then averaged over neighbouring values -> {limit}"
    return features, how
