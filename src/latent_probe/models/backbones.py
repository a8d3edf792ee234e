"""Builders of outside networks for ``Classifier(backbone=...)`` that a config cannot call directly.

torchvision's builders (``torchvision.models.resnet18``) take their options as named arguments and work as a
``class_path`` as they are. timm's ``create_model`` and Hugging Face's model classes take them as ``**kwargs`` or a
config object, which jsonargparse cannot see; these functions name the options. Weights are always random here:
pretrained weights come from a file through ``--weights`` (nothing is downloaded).
"""

from __future__ import annotations

import importlib
from typing import Any

from torch import nn

from latent_probe.errors import ConfigError


def timm_model(name: str, num_classes: int = 1000, in_chans: int = 3, options: dict[str, Any] | None = None) -> nn.Module:
    """``timm.create_model(name, pretrained=False, num_classes=..., in_chans=..., **options)``.

    Args:
        name: a timm model name, e.g. ``resnet18`` or ``vit_tiny_patch16_224``.
        num_classes: width of the classifier head.
        in_chans: input channels (1 for MNIST).
        options: any other keyword of that model, e.g. ``{img_size: 28, patch_size: 7}`` for a ViT.
    """
    timm = _optional("timm", "timm")
    if name not in timm.list_models():
        close = ", ".join(timm.list_models(f"*{name.split('_')[0]}*")[:10]) or "see timm.list_models()"
        raise ConfigError(f"unknown timm model {name!r}; close matches: {close}")
    try:
        return timm.create_model(name, pretrained=False, num_classes=num_classes, in_chans=in_chans, **(options or {}))
    except TypeError as error:
        raise ConfigError(f"timm model {name!r} does not take these options: {error}") from None


def hf_model(model_class: str, config_class: str, config: dict[str, Any] | None = None) -> nn.Module:
    """A Hugging Face ``transformers`` model built from its config class, with random weights (no download).

    Args:
        model_class: e.g. ``transformers.ViTForImageClassification``.
        config_class: e.g. ``transformers.ViTConfig``.
        config: the config's fields, e.g. ``{image_size: 28, patch_size: 7, num_channels: 1, num_labels: 10}``.
    """
    _optional("transformers", "hf")
    model_type, config_type = _import(model_class), _import(config_class)
    try:
        return model_type(config_type(**(config or {})))
    except (TypeError, ValueError) as error:
        raise ConfigError(f"cannot build {model_class} from {config_class}({config}): {error}") from None


def _optional(module: str, extra: str) -> Any:
    try:
        return importlib.import_module(module)
    except ImportError:
        raise ConfigError(f"{module} is not installed. HINT: pip install 'latent-probe[{extra}]'") from None


def _import(path: str) -> Any:
    module_name, _, attribute = path.rpartition(".")
    try:
        return getattr(importlib.import_module(module_name), attribute)
    except (ImportError, AttributeError, ValueError):
        raise ConfigError(f"cannot import {path!r}. HINT: give a full import path such as transformers.ViTConfig") from None
