"""Named stacks of fully connected layers: ``fc1, act1, fc2, act2, ...``, one module per affine map and activation."""

from __future__ import annotations

from collections.abc import Sequence

from torch import nn

from latent_probe.errors import ConfigError, check_range
from latent_probe.models.activations import make_activation


def check_sizes(name: str, sizes: Sequence[int], allow_empty: bool = True) -> list[int]:
    """``sizes`` as a list of positive ints; an empty list is a ``ConfigError`` unless allowed."""
    sizes = list(sizes)
    if not sizes and not allow_empty:
        raise ConfigError(f"{name} must list at least one layer size, got []")
    for size in sizes:
        check_range(f"each of {name}", size, minimum=1)
    return sizes


def dense_layers(in_features: int, sizes: Sequence[int], activation: str) -> list[tuple[str, nn.Module]]:
    """``[("fc1", Linear(in, sizes[0])), ("act1", activation), ("fc2", ...), ...]``, ready for ``nn.Sequential``."""
    layers: list[tuple[str, nn.Module]] = []
    for i, size in enumerate(sizes, start=1):
        layers += [(f"fc{i}", nn.Linear(in_features, size)), (f"act{i}", make_activation(activation))]
        in_features = size
    return layers
