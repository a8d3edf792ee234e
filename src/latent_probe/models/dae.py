"""A denoising autoencoder whose filters become sharp strokes with noise: tied weights, sigmoid units,
masking noise (the Theano tutorial's dA)."""

from __future__ import annotations

import math
from typing import ClassVar

import torch
from torch import nn
from torch.nn import functional as F

from latent_probe.errors import check_range
from latent_probe.models.base import ReconstructionModule, example_input
from latent_probe.models.dense import MAX_UNITS, check_chain
from latent_probe.registry import register_model


def sigmoid_layer_init(linear: nn.Linear) -> None:
    """The Theano tutorial's init for sigmoid units: uniform in +-4*sqrt(6 / (fan_in + fan_out)), zero bias."""
    fan_out, fan_in = linear.weight.shape
    bound = 4 * math.sqrt(6 / (fan_in + fan_out))
    nn.init.uniform_(linear.weight, -bound, bound)
    nn.init.zeros_(linear.bias)


def masking_noise(x: torch.Tensor, corruption: float) -> torch.Tensor:
    """``x`` with each value set to 0 with probability ``corruption``."""
    if corruption == 0:
        return x
    return x * torch.bernoulli(torch.full_like(x, 1 - corruption))


def denoising_loss(
    x: torch.Tensor, encoder: nn.Linear, encoder_act: nn.Module, decoder_bias: torch.Tensor, corruption: float
) -> torch.Tensor:
    """Cross-entropy (summed over features, averaged over the batch) of rebuilding ``x`` from its corrupted copy.

    The code is ``encoder_act(encoder(x~))``; the decoder is tied: ``sigmoid(code @ encoder.weight + decoder_bias)``.
    """
    code = encoder_act(encoder(masking_noise(x, corruption)))
    logits = F.linear(code, encoder.weight.t(), decoder_bias)
    return F.binary_cross_entropy_with_logits(logits, x, reduction="sum") / len(x)


@register_model()
class DenoisingAutoencoder(ReconstructionModule):
    """A denoising autoencoder with tied weights and sigmoid units, trained on masking noise (the Deep Learning Tutorial's dA).

    Module paths: ``encoder`` (``Linear(in_features, hidden)``; ``encoder.weight`` has one row per hidden
    unit holding its incoming weights, i.e. one 28x28 filter per row), ``encoder_act`` (a ``Sigmoid``: the
    hidden code) and ``decoder_act`` (a ``Sigmoid``: the rebuilt pixels). The decoder reuses
    ``encoder.weight`` transposed, plus its own parameter ``decoder_bias``. Inputs are images or flat vectors
    with pixels in [0, 1] (data ``normalize: false``). Training corrupts the input; ``val/loss`` and
    ``test/loss`` are the cross-entropy of rebuilding the clean input from itself.

    Args:
        hidden: hidden units (500 in the article; 50 gives sharp filters with or without noise).
        corruption: share of input values set to 0 during training (0.3 in the article), in [0, 1].
        in_features: pixels per image (784 for MNIST).
        lr: Adam learning rate.
    """

    # The layers each probe reads when a config names none: the module paths documented above.
    probe_layers: ClassVar[dict[str, list[str]]] = {
        "EmbeddingDumper": ["encoder_act"], "LinearProbe": ["encoder_act"], "InfluenceMapper": ["encoder_act"], "FilterTiler": ["encoder"],
    }

    def __init__(self, hidden: int = 500, corruption: float = 0.3, in_features: int = 784, lr: float = 1e-3) -> None:
        super().__init__(lr=lr)
        check_range("hidden", hidden, minimum=1, maximum=MAX_UNITS)
        check_range("corruption", corruption, minimum=0, maximum=1)
        check_range("in_features", in_features, minimum=1, maximum=MAX_UNITS)
        check_chain("DenoisingAutoencoder", [in_features, hidden])
        self.save_hyperparameters()
        self.example_input_array = example_input(in_features)
        self.corruption = corruption
        self.encoder = nn.Linear(in_features, hidden)
        self.encoder_act = nn.Sigmoid()
        self.decoder_bias = nn.Parameter(torch.zeros(in_features))
        self.decoder_act = nn.Sigmoid()
        sigmoid_layer_init(self.encoder)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """The hidden code ``(n, hidden)`` of clean inputs."""
        return self.encoder_act(self.encoder(x.flatten(start_dim=1)))

    def decode(self, code: torch.Tensor) -> torch.Tensor:
        """Pixel probabilities ``(n, in_features)`` through the tied (transposed) weights."""
        return self.decoder_act(F.linear(code, self.encoder.weight.t(), self.decoder_bias))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Reconstruction of clean ``x``, shaped like ``x``."""
        return self.decode(self.encode(x)).reshape(x.shape)

    def losses(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """Reconstruction cross-entropy, from corrupted inputs while training and from clean ones otherwise."""
        corruption = self.corruption if self.training else 0.0
        loss = denoising_loss(x.flatten(start_dim=1), self.encoder, self.encoder_act, self.decoder_bias, corruption)
        return {"loss": loss}
