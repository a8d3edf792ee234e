"""Registered models; importing this package registers them."""

from latent_probe.models.base import ClassifierModule
from latent_probe.models.deep_mlp import DeepMLP

__all__ = ["ClassifierModule", "DeepMLP"]
