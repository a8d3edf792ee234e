"""The variational autoencoder whose latent means show class centroids: MLP encoder and decoder, a Gaussian latent, a Bernoulli decoder."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from typing import ClassVar

import torch
from torch import nn
from torch.nn import functional as F

from latent_probe.errors import check_range
from latent_probe.models.activation_functions import check_activation
from latent_probe.models.base import ReconstructionModule, example_input
from latent_probe.models.dense import MAX_UNITS, check_chain, check_sizes, dense_layers
from latent_probe.registry import register_model


class GaussianEncoder(nn.Module):
    """An MLP (``hidden.fc1``, ``hidden.act1``, ...) feeding two heads: ``mean`` and ``logvar`` of q(z|x)."""

    def __init__(self, in_features: int, hidden_sizes: Sequence[int], latent_dim: int, activation: str) -> None:
        super().__init__()
        self.hidden = nn.Sequential(OrderedDict(dense_layers(in_features, hidden_sizes, activation)))
        width = hidden_sizes[-1] if hidden_sizes else in_features
        self.mean = nn.Linear(width, latent_dim)
        self.logvar = nn.Linear(width, latent_dim)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean and log-variance of the latent Gaussian, each ``(n, latent_dim)``."""
        h = self.hidden(x)
        return self.mean(h), self.logvar(h)


@register_model()
class VAE(ReconstructionModule):
    """A variational autoencoder with a ``latent_dim``-D Gaussian latent and a Bernoulli decoder (the latent-space centroid experiment).

    Module paths: ``encoder.hidden.fc1``, ``encoder.hidden.act1``, ... then ``encoder.mean`` (a ``Linear``:
    its output is the latent mean per image, what the article's probes read) and ``encoder.logvar``;
    ``decoder.fc1``, ``decoder.act1``, ..., ``decoder.out`` (pixel logits) and ``decoder_act`` (a ``Sigmoid``:
    the reconstructed pixels). Inputs are images or flat vectors with pixels in [0, 1] (data
    ``normalize: false``); the loss per image is the summed pixel cross-entropy ``recon`` plus ``kl``,
    logged as ``train/loss``, ``train/recon``, ``train/kl``, ``val/...`` and ``test/...``.

    Args:
        latent_dim: dimension of the latent space (20 in the article; 2 gives the familiar 2-D class clusters).
        hidden_sizes: widths of the encoder's hidden layers; the decoder mirrors them.
        activation: activation of the hidden layers (``relu``, ``tanh``, ...).
        in_features: pixels per image (784 for MNIST).
        lr: Adam learning rate.
        kl_weight: the KL term's weight in the trained loss (1 = the ELBO; > 1 is a beta-VAE, which switches
            latent units off; ``nelbo`` logs the unweighted negative ELBO either way).
    """

    # The layers each probe reads when a config names none: the module paths documented above.
    probe_layers: ClassVar[dict[str, list[str]]] = {
        "EmbeddingDumper": ["encoder.mean"], "LinearProbe": ["encoder.mean"],
        "InfluenceMapper": ["encoder.mean"], "FilterTiler": ["encoder.hidden.fc1"],
    }

    def __init__(
        self,
        latent_dim: int = 20,
        hidden_sizes: Sequence[int] = (500,),
        activation: str = "relu",
        in_features: int = 784,
        lr: float = 1e-3,
        kl_weight: float = 1.0,
    ) -> None:
        super().__init__(lr=lr)
        check_range("latent_dim", latent_dim, minimum=1, maximum=MAX_UNITS)
        check_range("kl_weight", kl_weight, minimum=0, maximum=1e6)
        self.kl_weight = float(kl_weight)
        check_range("in_features", in_features, minimum=1, maximum=MAX_UNITS)
        hidden_sizes = check_sizes("hidden_sizes", hidden_sizes)
        check_chain("VAE", [in_features, *hidden_sizes, latent_dim], repeat=3)  # encoder (mean and log-variance heads) and decoder
        check_activation(activation)
        self.save_hyperparameters()
        self.example_input_array = example_input(in_features)
        self.encoder = GaussianEncoder(in_features, hidden_sizes, latent_dim, activation)
        decoder_sizes = hidden_sizes[::-1]
        decoder_width = decoder_sizes[-1] if decoder_sizes else latent_dim
        self.decoder = nn.Sequential(OrderedDict(
            [*dense_layers(latent_dim, decoder_sizes, activation), ("out", nn.Linear(decoder_width, in_features))]
        ))
        self.decoder_act = nn.Sigmoid()

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Latent mean and log-variance of each input."""
        return self.encoder(x.flatten(start_dim=1))

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Pixel probabilities ``(n, in_features)`` for latent codes ``z``."""
        return self.decoder_act(self.decoder(z))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Reconstruction of ``x`` from its latent mean (no sampling), shaped like ``x``."""
        mean, _ = self.encode(x)
        return self.decode(mean).reshape(x.shape)

    def losses(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """Trained loss ``recon + kl_weight * kl`` and the negative ELBO ``nelbo = recon + kl`` per image, batch means.

        ``recon`` is the summed pixel cross-entropy.
        """
        target = x.flatten(start_dim=1)
        mean, logvar = self.encoder(target)
        z = mean + torch.randn_like(mean) * torch.exp(0.5 * logvar)  # reparameterisation: gradients reach mean/logvar
        logits = self.decoder(z)
        recon = F.binary_cross_entropy_with_logits(logits, target, reduction="sum") / len(x)
        kl = -0.5 * torch.sum(1 + logvar - mean.pow(2) - logvar.exp()) / len(x)
        return {"loss": recon + self.kl_weight * kl, "recon": recon, "kl": kl, "nelbo": recon + kl}
