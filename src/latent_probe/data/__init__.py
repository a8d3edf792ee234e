"""Registered datamodules; importing this package registers them."""

from latent_probe.data.base import SPLITS, ProbeableDataModule
from latent_probe.data.toy2d import Toy2DDataModule

__all__ = ["SPLITS", "ProbeableDataModule", "Toy2DDataModule"]
