"""Registered models; importing this package registers them."""

from latent_probe.models.base import ClassifierModule, LogitsClassifierModule, ReconstructionModule, StepModule
from latent_probe.models.bottleneck import BottleneckClassifier
from latent_probe.models.classifier import Classifier
from latent_probe.models.dae import DenoisingAutoencoder
from latent_probe.models.deep_mlp import DeepMLP
from latent_probe.models.mlp import MLPClassifier
from latent_probe.models.sda import StackedDenoisingAutoencoder
from latent_probe.models.vae import VAE

__all__ = [
    "BottleneckClassifier",
    "Classifier",
    "ClassifierModule",
    "DeepMLP",
    "DenoisingAutoencoder",
    "LogitsClassifierModule",
    "MLPClassifier",
    "ReconstructionModule",
    "StackedDenoisingAutoencoder",
    "StepModule",
    "VAE",
]
