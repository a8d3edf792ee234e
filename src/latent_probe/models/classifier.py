"""``Classifier``: any network as a LightningModule, so that outside models (torchvision, timm, Hugging Face, your
own ``nn.Module``) train from a config and take every probe without writing a LightningModule."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from latent_probe.dataspec import Inputs
from latent_probe.errors import ConfigError, check_range
from latent_probe.models.base import ClassifierModule
from latent_probe.registry import register_model


@register_model()
class Classifier(ClassifierModule):
    """Any ``nn.Module`` as a classifier trained with cross-entropy on its logits (``train/loss``, ``val/acc``, ``test/acc``).

    The backbone is injected from the config (``class_path`` of a module class or of a function returning one,
    e.g. ``torchvision.models.resnet18``, ``latent_probe.models.backbones.timm_model``, ``...hf_model``). Probes
    name its layers by their own paths under ``backbone.`` (``backbone.layer1``, ``backbone.vit.layers.0``).
    Batches may be ``(x, y)`` tuples or dicts (``{"pixel_values", "labels"}``): several input keys are passed as
    keyword arguments. Given the run's ``DataSpec`` (``use_data_spec``), batches are split by its keys; without one,
    by the inference rule ``build_data_spec`` infers a spec's keys by (``batch_parts``).

    Args:
        backbone: the network. Its output holds the logits: a tensor, ``.logits`` / ``["logits"]`` (Hugging Face),
            or the first tensor of a tuple.
        num_classes: when given, the logits' width must match (checked on the first batch, with a clear error).
        in_channels: the data's image channels, when they differ from the backbone's first convolution's: a learned
            1x1 convolution ``input_adapter`` maps them (it starts as the channel mean copied to every channel).
        lr: Adam's learning rate (LightningCLI's ``optimizer:`` and ``lr_scheduler:`` keys override it).
    """

    def __init__(self, backbone: nn.Module, num_classes: int | None = None, in_channels: int | None = None, lr: float = 1e-3) -> None:
        super().__init__(lr=lr)
        if not isinstance(backbone, nn.Module):
            raise ConfigError(f"Classifier: backbone must be a torch.nn.Module, got {type(backbone).__name__}")
        if num_classes is not None:
            check_range("num_classes", num_classes, minimum=2)
        self.save_hyperparameters(ignore=["backbone"])
        self.backbone, self.num_classes = backbone, num_classes
        self.input_adapter = channel_adapter(backbone, in_channels) if in_channels is not None else None

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        """The backbone's own output (for probes and predictions), after the input adapter if any."""
        if self.input_adapter is not None and args:
            args = (self.input_adapter(args[0]), *args[1:])
        return self.backbone(*args, **kwargs)

    def loss_and_predictions(self, x: Inputs, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Cross-entropy on the logits; the predicted class is their argmax."""
        logits = logits_of(self(**x) if isinstance(x, dict) else self(x))
        if self.num_classes is not None and logits.shape[-1] != self.num_classes:
            raise ConfigError(f"Classifier: the backbone gives {logits.shape[-1]} logits, num_classes is {self.num_classes}. "
                              "HINT: set the backbone's own number of classes (num_classes / num_labels)")
        return F.cross_entropy(logits, y), logits.argmax(dim=-1)

    def predict_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        """The logits of the batch's inputs."""
        inputs = self.split_batch(batch).inputs
        return logits_of(self(**inputs) if isinstance(inputs, dict) else self(inputs))


def logits_of(output: Any) -> torch.Tensor:
    """The logits in a backbone's output: a tensor, ``.logits``, ``["logits"]``, or the first tensor of a tuple."""
    if isinstance(output, torch.Tensor):
        return output
    if isinstance(output, Mapping) and isinstance(output.get("logits"), torch.Tensor):
        return output["logits"]
    if isinstance(getattr(output, "logits", None), torch.Tensor):
        return output.logits
    if isinstance(output, (tuple, list)):
        first = next((item for item in output if isinstance(item, torch.Tensor)), None)
        if first is not None:
            return first
    raise ConfigError(f"Classifier: cannot find logits in the backbone's output ({type(output).__name__}). "
                      "HINT: the backbone must return a tensor, a tuple starting with one, or an object with .logits")


def channel_adapter(backbone: nn.Module, in_channels: int) -> nn.Module | None:
    """A 1x1 convolution from ``in_channels`` to what the backbone's first ``Conv2d`` takes (None when they agree)."""
    check_range("in_channels", in_channels, minimum=1)
    first = next((m for m in backbone.modules() if isinstance(m, nn.Conv2d)), None)
    if first is None:
        raise ConfigError("Classifier: in_channels adapts images to the backbone's first Conv2d, but the backbone has none")
    if first.in_channels == in_channels:
        return None
    adapter = nn.Conv2d(in_channels, first.in_channels, kernel_size=1, bias=False)
    nn.init.constant_(adapter.weight, 1.0 / in_channels)  # at first: the channels' mean, copied to every channel
    return adapter
