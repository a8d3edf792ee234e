"""The built-in models; each registers itself when its module is imported (``registry.BUILTINS`` names them before).

The names below are imported on first use, so that ``latent_probe.models.regular_files`` (read by the command line's
config checks) imports no torch.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from latent_probe.models.base import ClassifierModule, LogitsClassifierModule, ReconstructionModule, StepModule
    from latent_probe.models.bottleneck import BottleneckClassifier
    from latent_probe.models.classifier import Classifier
    from latent_probe.models.dae import DenoisingAutoencoder
    from latent_probe.models.deep_mlp import DeepMLP
    from latent_probe.models.mlp import MLPClassifier
    from latent_probe.models.sda import StackedDenoisingAutoencoder
    from latent_probe.models.vae import VAE

# name -> the module that defines it
MODULES = {
    "BottleneckClassifier": "bottleneck",
    "Classifier": "classifier",
    "ClassifierModule": "base",
    "DeepMLP": "deep_mlp",
    "DenoisingAutoencoder": "dae",
    "LogitsClassifierModule": "base",
    "MLPClassifier": "mlp",
    "ReconstructionModule": "base",
    "StackedDenoisingAutoencoder": "sda",
    "StepModule": "base",
    "VAE": "vae",
}


def __getattr__(name: str) -> Any:
    """A model class (or a base class) of ``MODULES``, imported on first use."""
    if name not in MODULES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{MODULES[name]}"), name)


def __dir__() -> list[str]:
    return sorted({*globals(), *MODULES})


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
