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
    transformers = _optional("transformers", "hf")
    # Only what transformers itself provides is built: a config (or a saved run's config.yaml received from someone
    # else) must not be able to name any other callable through these strings.
    model_type = _transformers_class(model_class, transformers.PreTrainedModel, "model_class")
    config_type = _transformers_class(config_class, transformers.PretrainedConfig, "config_class")
    try:
        return model_type(config_type(**(config or {})))
    except (TypeError, ValueError) as error:
        raise ConfigError(f"cannot build {model_class} from {config_class}({config}): {error}") from None


def _optional(module: str, extra: str) -> Any:
    try:
        return importlib.import_module(module)
    except ImportError:
        raise ConfigError(f"{module} is not installed. HINT: pip install 'latent-probe[{extra}]'") from None


def _transformers_class(path: str, base: type, option: str) -> type:
    """The class ``transformers.<Name>`` named by ``path`` if it is a ``base`` subclass; anything else is refused unimported."""
    example = "transformers.ViTForImageClassification" if option == "model_class" else "transformers.ViTConfig"
    module_name, _, attribute = str(path).rpartition(".")
    if module_name != "transformers" or not attribute.isidentifier() or attribute.startswith("_"):
        raise ConfigError(f"{option} {path!r} must name a class of the transformers package, e.g. {example}")
    try:
        found = getattr(importlib.import_module(module_name), attribute)
    except (ImportError, AttributeError):
        raise ConfigError(f"{option} {path!r}: transformers has no such class. HINT: e.g. {example}") from None
    if not (isinstance(found, type) and issubclass(found, base)):
        raise ConfigError(f"{option} {path!r} is not a transformers {base.__name__} subclass. HINT: e.g. {example}")
    return found
