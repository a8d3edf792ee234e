"""A stacked denoising autoencoder (filters before and after fine-tuning): greedy layer-wise pretraining,
then supervised fine-tuning, in one fit."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

import torch
from pytorch_lightning.utilities import rank_zero_warn
from torch import nn

from latent_probe.errors import ConfigError, check_range
from latent_probe.models.base import LogitsClassifierModule, example_input
from latent_probe.models.dae import denoising_loss, sigmoid_layer_init
from latent_probe.models.dense import MAX_UNITS, check_chain, check_sizes
from latent_probe.models.phases import notify_phase_end
from latent_probe.registry import register_model


def per_layer_corruption(corruption: float | Sequence[float], layers: int) -> list[float]:
    """One corruption level per layer: a single value is used for every layer; a list must have one per layer."""
    levels = [float(corruption)] * layers if isinstance(corruption, (int, float)) else [float(c) for c in corruption]
    if len(levels) != layers:
        raise ConfigError(
            f"corruption must be one value or one per hidden layer ({layers}), got {len(levels)} values. "
            "HINT: change corruption with hidden_sizes, e.g. --model.corruption 0.2 for every layer"
        )
    for level in levels:
        check_range("corruption", level, minimum=0, maximum=1)
    return levels


@register_model()
class StackedDenoisingAutoencoder(LogitsClassifierModule):
    """Stacked denoising autoencoders pretrained layer by layer, then fine-tuned as a classifier (Deep Learning Tutorial).

    One ``fit`` runs both phases; the phase follows from ``current_epoch``. Epochs
    ``[k * pretrain_epochs, (k + 1) * pretrain_epochs)`` pretrain layer ``k`` as a tied-weight dA on the clean
    codes of the layers below (the others are frozen by having no gradient); the remaining epochs fine-tune the
    whole stack and the softmax output with cross-entropy, without corruption. So set
    ``trainer.max_epochs = len(hidden_sizes) * pretrain_epochs + fine-tuning epochs``.

    Phases announced through ``latent_probe.models.phases.notify_phase_end``, on every rank, after that epoch's
    validation: ``pretrain_layer{k}_end`` (k = 1, 2, ...) at the end of each layer's last pretraining epoch,
    then ``pretrain_end`` once, at the end of the last pretraining epoch; ``finetune_end`` when a fit that
    fine-tuned ends (probes may equally use ``fit_end``).

    Module paths: ``encoders.0``, ``encoders.1``, ... (``Linear`` layers; ``encoders.0.weight`` rows are the
    first layer's 28x28 filters), ``encoder_acts.0``, ``encoder_acts.1``, ... (their ``Sigmoid`` codes) and
    ``classifier`` (the ``Linear`` output giving class logits). Each dA's decoder bias is ``decoder_biases.k``.
    Logs ``train/pretrain_layer{k}_loss`` and ``val/pretrain_layer{k}_loss`` while pretraining, and the
    classifier's ``train/loss``, ``val/loss``, ``val/acc``, ``test/acc``.

    Args:
        hidden_sizes: widths of the stacked layers (``[500, 500]`` in the article; also ``[200, 50]``, ``[50, 50]``).
        corruption: masking-noise level of each layer's pretraining: one value for all, or one per layer
            (the Theano tutorial uses 0.1, 0.2, 0.3 for its three layers).
        pretrain_epochs: pretraining epochs per layer (0: fine-tune only, nothing announced).
        in_features: pixels per image (784 for MNIST); inputs are images or flat vectors in [0, 1].
        num_classes: number of output classes.
        lr: Adam learning rate, in both phases.
    """

    # The layers each probe reads when a config names none: the module paths documented above.
    probe_layers: ClassVar[dict[str, list[str]]] = {
        "EmbeddingDumper": ["encoder_acts.*"], "InfluenceMapper": ["encoder_acts.0"], "FilterTiler": ["encoders.0"],
    }

    def __init__(
        self,
        hidden_sizes: Sequence[int] = (500, 500),
        corruption: float | Sequence[float] = 0.2,
        pretrain_epochs: int = 2,
        in_features: int = 784,
        num_classes: int = 10,
        lr: float = 1e-3,
    ) -> None:
        super().__init__(lr=lr)
        hidden_sizes = check_sizes("hidden_sizes", hidden_sizes, allow_empty=False)
        self.corruption = per_layer_corruption(corruption, len(hidden_sizes))
        check_range("pretrain_epochs", pretrain_epochs, minimum=0)
        check_range("in_features", in_features, minimum=1, maximum=MAX_UNITS)
        check_range("num_classes", num_classes, minimum=2, maximum=MAX_UNITS)
        check_chain("StackedDenoisingAutoencoder", [in_features, *hidden_sizes, num_classes])
        self.save_hyperparameters()
        self.example_input_array = example_input(in_features)
        self.pretrain_epochs = pretrain_epochs
        widths = [in_features, *hidden_sizes]
        self.encoders = nn.ModuleList(nn.Linear(n_in, n_out) for n_in, n_out in zip(widths, widths[1:]))
        self.encoder_acts = nn.ModuleList(nn.Sigmoid() for _ in hidden_sizes)
        self.decoder_biases = nn.ParameterList(nn.Parameter(torch.zeros(n_in)) for n_in in widths[:-1])
        self.classifier = nn.Linear(widths[-1], num_classes)
        for encoder in self.encoders:
            sigmoid_layer_init(encoder)
        self.finetuned = False

    @property
    def phases(self) -> tuple[str, ...]:
        """The phase events this stack can announce (``latent_probe.models.phases``): the moments probes may fire at."""
        return (*(f"pretrain_layer{k + 1}_end" for k in range(len(self.encoders))), "pretrain_end", "finetune_end")

    @property
    def pretraining_epochs(self) -> int:
        """Epochs of the whole pretraining phase: ``len(hidden_sizes) * pretrain_epochs``."""
        return len(self.encoders) * self.pretrain_epochs

    def pretraining_layer(self, epoch: int | None = None) -> int | None:
        """The layer (0-based) pretrained in ``epoch`` (default: the current one), or ``None`` when fine-tuning."""
        epoch = self.current_epoch if epoch is None else epoch
        return epoch // self.pretrain_epochs if epoch < self.pretraining_epochs else None

    def encode(self, x: torch.Tensor, layers: int | None = None) -> torch.Tensor:
        """The code of the first ``layers`` encoders (default: all) for clean inputs."""
        h = x.flatten(start_dim=1)
        for encoder, act in list(zip(self.encoders, self.encoder_acts))[:layers]:
            h = act(encoder(h))
        return h

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Class logits ``(n, num_classes)`` of the whole stack."""
        return self.classifier(self.encode(x))

    def pretrain_loss(self, x: torch.Tensor, layer: int) -> torch.Tensor:
        """Denoising loss of dA ``layer`` on the clean code of the layers below it."""
        with torch.no_grad():  # the layers below are already pretrained: only this dA learns
            below = self.encode(x, layers=layer)
        return denoising_loss(
            below, self.encoders[layer], self.encoder_acts[layer], self.decoder_biases[layer], self.corruption[layer]
        )

    def _log_pretrain_loss(self, batch, stage: str, layer: int) -> torch.Tensor:
        x = self.split_batch(batch).inputs
        loss = self.pretrain_loss(x, layer)
        if stage == "train":
            self.log_train(f"pretrain_layer{layer + 1}_loss", loss, len(x), prog_bar=True)
        else:
            self.log(f"{stage}/pretrain_layer{layer + 1}_loss", loss, on_epoch=True, prog_bar=True, batch_size=len(x),
                     sync_dist=True)
        return loss

    def training_step(self, batch, batch_idx: int) -> torch.Tensor:
        """Pretrain the current layer's dA, or fine-tune the whole classifier."""
        layer = self.pretraining_layer()
        if layer is not None:
            return self._log_pretrain_loss(batch, "train", layer)
        self.finetuned = True
        return super().training_step(batch, batch_idx)

    def validation_step(self, batch, batch_idx: int) -> None:
        """Log the classifier's ``val/loss`` and ``val/acc``, and while pretraining the current dA's loss."""
        super().validation_step(batch, batch_idx)
        layer = self.pretraining_layer() if self.trainer.state.fn == "fit" else None
        if layer is not None:
            self._log_pretrain_loss(batch, "val", layer)

    def on_fit_start(self) -> None:
        """Warn when ``max_epochs`` leaves no epoch for fine-tuning."""
        max_epochs = self.trainer.max_epochs
        if max_epochs is not None and 0 <= max_epochs <= self.pretraining_epochs:
            rank_zero_warn(
                f"max_epochs={max_epochs} leaves no fine-tuning: pretraining takes {self.pretraining_epochs} epochs "
                f"({len(self.encoders)} layers x pretrain_epochs={self.pretrain_epochs})"
            )

    def on_train_epoch_end(self) -> None:
        """Log the epoch's training means; announce the end of a layer's pretraining, and of the whole pretraining phase."""
        super().on_train_epoch_end()
        layer = self.pretraining_layer()
        if layer is None or self.pretraining_layer(self.current_epoch + 1) == layer:
            return
        notify_phase_end(self, f"pretrain_layer{layer + 1}_end")
        if layer == len(self.encoders) - 1:
            notify_phase_end(self, "pretrain_end")

    def on_train_end(self) -> None:
        """Announce ``finetune_end`` when this fit fine-tuned."""
        if self.finetuned:
            notify_phase_end(self, "finetune_end")
