"""The 784-50-100-10 sigmoid MLP of the per-node influence maps, optionally loaded from external pretrained weights."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import ClassVar

import torch
from torch import nn

from latent_probe.errors import check_range
from latent_probe.models.activation_functions import check_activation
from latent_probe.models.base import LogitsClassifierModule, example_input
from latent_probe.models.dense import MAX_UNITS, check_chain, check_sizes, dense_layers
from latent_probe.models.external_weights import load_dense_weights, save_dense_weights
from latent_probe.registry import register_model


@register_model()
class MLPClassifier(LogitsClassifierModule):
    """A fully connected classifier with separate affine and activation modules (the influence-map experiment), trained with cross-entropy.

    Module paths, in forward order: ``flatten``, ``fc1``, ``act1``, ``fc2``, ``act2``, ..., and last
    ``fc{len(hidden_sizes) + 1}`` (``fc3`` by default: the pre-softmax output, the article's ``a3``). So with the
    defaults ``fc1`` is the article's ``a1``, ``act1`` its ``z1``, ``fc2``/``act2`` its ``a2``/``z2``. Inputs are
    images ``(n, 1, 28, 28)`` or flat ``(n, 784)``, pixels/255 in [0, 1] for the article's weights.

    ``weights`` loads external pretrained weights (``W1, b1, W2, b2, ...``, ``y = x·W + b``, W of shape in x out)
    from ``.npz`` or ``.safetensors``; ``export_weights`` writes them back in that layout. Every key and shape
    is checked. When reloading a Lightning checkpoint of a model built with ``weights``, the file is read again
    (then overwritten by the checkpoint); pass ``weights=None`` to ``load_from_checkpoint`` to skip it.

    Args:
        hidden_sizes: widths of the hidden layers (``[50, 100]`` in the article).
        activation: activation after each hidden layer (``sigmoid`` in the article).
        in_features: inputs per sample after flattening (784 for MNIST, 64 for the 8x8 digits).
        num_classes: number of output classes.
        weights: optional ``.npz``/``.safetensors`` file of pretrained weights to start from.
        lr: Adam learning rate.
    """

    # The layers each probe reads when a config names none: the module paths documented above.
    probe_layers: ClassVar[dict[str, list[str]]] = {
        "InfluenceMapper": ["act1", "act2", "fc3"], "EmbeddingDumper": ["act*"], "FilterTiler": ["fc1"],
    }

    def __init__(
        self,
        hidden_sizes: Sequence[int] = (50, 100),
        activation: str = "sigmoid",
        in_features: int = 784,
        num_classes: int = 10,
        weights: str | None = None,
        lr: float = 1e-3,
    ) -> None:
        super().__init__(lr=lr)
        hidden_sizes = check_sizes("hidden_sizes", hidden_sizes)
        check_activation(activation)
        check_range("in_features", in_features, minimum=1, maximum=MAX_UNITS)
        check_range("num_classes", num_classes, minimum=2, maximum=MAX_UNITS)
        check_chain("MLPClassifier", [in_features, *hidden_sizes, num_classes])
        self.save_hyperparameters()
        self.example_input_array = example_input(in_features)
        layers = [("flatten", nn.Flatten()), *dense_layers(in_features, hidden_sizes, activation)]
        width = hidden_sizes[-1] if hidden_sizes else in_features
        layers.append((f"fc{len(hidden_sizes) + 1}", nn.Linear(width, num_classes)))
        for name, module in layers:
            self.add_module(name, module)
        self.layer_names = [name for name, _ in layers]
        if weights is not None:
            load_dense_weights(self.linears, weights)

    @property
    def linears(self) -> list[nn.Linear]:
        """The affine layers ``fc1, fc2, ...`` in forward order."""
        return [module for module in self.children() if isinstance(module, nn.Linear)]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Class logits (the last ``fc``), shape ``(n, num_classes)``."""
        for name in self.layer_names:
            x = getattr(self, name)(x)
        return x

    def export_weights(self, path: str | os.PathLike) -> None:
        """Write the weights to ``path`` (``.npz`` or ``.safetensors``) as ``W1, b1, ...``, ``y = x·W + b``."""
        save_dense_weights(self.linears, path)
