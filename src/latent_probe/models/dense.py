"""Named stacks of fully connected layers: ``fc1, act1, fc2, act2, ...``, one module per affine map and activation."""

from __future__ import annotations

from collections.abc import Sequence

from torch import nn

from latent_probe.errors import ConfigError, check_range
from latent_probe.models.activation_functions import make_activation

MAX_UNITS = 1_000_000  # units in one layer
MAX_PARAMETERS = 1_000_000_000  # 4 GiB of float32 weights: more, from a config, is almost surely a typo


def check_sizes(name: str, sizes: Sequence[int], allow_empty: bool = True) -> list[int]:
    """``sizes`` as a list of ints in [1, ``MAX_UNITS``]; an empty list is a ``ConfigError`` unless allowed."""
    sizes = list(sizes)
    if not sizes and not allow_empty:
        raise ConfigError(f"{name} must list at least one layer size, got []")
    for size in sizes:
        check_range(f"each of {name}", size, minimum=1, maximum=MAX_UNITS)
    return sizes


def check_chain(model: str, widths: Sequence[int], repeat: int = 1) -> None:
    """Raise before allocating when a chain of dense layers of these ``widths`` (built ``repeat`` times, e.g. an
    encoder and its decoder) would hold more than ``MAX_PARAMETERS`` weights."""
    shown = "x".join(map(str, widths))
    shown = shown if len(shown) <= 80 else f"{shown[:60]}... ({len(widths)} layers)"
    check_parameter_count(model, repeat * sum(a * b for a, b in zip(widths, widths[1:])), shown)


def check_parameter_count(model: str, count: int, what: str) -> None:
    """Raise when ``count`` parameters are more than ``MAX_PARAMETERS`` (before any memory is asked for)."""
    if count > MAX_PARAMETERS:
        raise ConfigError(f"{model} with sizes {what} would hold {count:,} weights ({count * 4 / 2**30:,.0f} GiB); "
                          f"the limit is {MAX_PARAMETERS:,}. HINT: check the layer sizes")


def dense_layers(in_features: int, sizes: Sequence[int], activation: str) -> list[tuple[str, nn.Module]]:
    """``[("fc1", Linear(in, sizes[0])), ("act1", activation), ("fc2", ...), ...]``, ready for ``nn.Sequential``."""
    layers: list[tuple[str, nn.Module]] = []
    for i, size in enumerate(sizes, start=1):
        layers += [(f"fc{i}", nn.Linear(in_features, size)), (f"act{i}", make_activation(activation))]
        in_features = size
    return layers
