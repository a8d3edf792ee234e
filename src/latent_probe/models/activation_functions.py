"""Activation modules by name, so configs can say ``activation: leaky_relu``."""

from __future__ import annotations

from collections.abc import Callable

from torch import nn

from latent_probe.registry import require_choice

# Modules, not functions: a separate activation module gives probes a hook on the activation output.
ACTIVATIONS: dict[str, Callable[[], nn.Module]] = {
    "relu": nn.ReLU,
    "leaky_relu": nn.LeakyReLU,  # PyTorch's slope 0.01 (Keras' LeakyReLU defaults to 0.3)
    "sigmoid": nn.Sigmoid,
    "tanh": nn.Tanh,
    "identity": nn.Identity,
}


def check_activation(name: str) -> str:
    """Return ``name`` if it is a known activation, else raise the one-line choice error."""
    return require_choice("activation", name, ACTIVATIONS)


def make_activation(name: str) -> nn.Module:
    """A new activation module for ``name`` (one of ``ACTIVATIONS``)."""
    return ACTIVATIONS[check_activation(name)]()
