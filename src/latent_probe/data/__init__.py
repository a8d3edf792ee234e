"""Registered datamodules; importing this package registers them."""

from latent_probe.data.base import SPLITS, ProbeableDataModule
from latent_probe.data.datasets import DatasetDataModule
from latent_probe.data.digits import DigitsDataModule
from latent_probe.data.images import ImageDataModule, PixelTransform
from latent_probe.data.in_memory import InMemoryDataset
from latent_probe.data.mnist import MNISTDataModule
from latent_probe.data.toy2d import Toy2DDataModule

__all__ = [
    "SPLITS",
    "DatasetDataModule",
    "DigitsDataModule",
    "ImageDataModule",
    "InMemoryDataset",
    "MNISTDataModule",
    "PixelTransform",
    "ProbeableDataModule",
    "Toy2DDataModule",
]
