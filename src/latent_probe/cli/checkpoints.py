"""Reading checkpoints safely (``weights_only=True``, nothing unpickled) and checking that they fit the model."""

from __future__ import annotations

import os
from pathlib import Path

import pytorch_lightning as pl
import torch

from latent_probe.errors import ConfigError
from latent_probe.models.archives import check_expansion, file_limit
from latent_probe.models.regular_files import open_regular_file
from latent_probe.models.weights import check_finite, odd_entries, odd_text, shape_mismatches, why_unreadable


def read_checkpoint(ckpt_path: str) -> dict:
    """A checkpoint loaded with ``weights_only=True`` (no arbitrary unpickling), its zip members' sizes checked first
    (``archives.file_limit``); a missing, special, oversized or unreadable file raises ``ConfigError``."""
    with open_regular_file(ckpt_path, "checkpoint file") as file:
        check_expansion(file, ".ckpt", f"checkpoint {ckpt_path!r}", file_limit(os.fstat(file.fileno()).st_size))
        try:
            checkpoint = torch.load(file, map_location="cpu", weights_only=True)
        except Exception as error:  # noqa: BLE001  pickle, zip and torch errors all mean "not a usable checkpoint"
            raise ConfigError(f"cannot read checkpoint {ckpt_path!r}: {why_unreadable(error)}") from None
    if not isinstance(checkpoint, dict):
        raise ConfigError(f"checkpoint {ckpt_path!r} holds a {type(checkpoint).__name__}, not a checkpoint dict")
    return checkpoint


def check_checkpoint_fits(model: pl.LightningModule, ckpt_path: str, checkpoint: dict | None = None) -> dict:
    """Raise ``ConfigError`` unless the checkpoint is a Lightning checkpoint whose weights fit ``model``: the same keys,
    every entry a tensor of the model's shape, no NaN or inf where the model's own values are finite."""
    checkpoint = checkpoint if checkpoint is not None else read_checkpoint(ckpt_path)
    state = checkpoint.get("state_dict")
    if not isinstance(state, dict):
        raise ConfigError(f"checkpoint {ckpt_path!r} has no state_dict. HINT: pass a Lightning .ckpt from checkpoints/")
    odd = odd_entries(state)
    if odd:
        raise ConfigError(f"checkpoint {ckpt_path!r}: {odd_text(odd)}")
    expected = model.state_dict()
    missing, unexpected = sorted(set(expected) - set(state)), sorted(set(state) - set(expected))
    shapes = shape_mismatches(state, expected)
    if missing or unexpected or shapes:
        differ = f"missing {missing[:4]}, unexpected {unexpected[:4]}" if missing or unexpected else \
            f"shapes differ (checkpoint vs model) {shapes[:3]} ({len(shapes)})"
        raise ConfigError(f"checkpoint {ckpt_path!r} does not fit {type(model).__name__}: {differ}. "
                          "HINT: use the config the checkpoint was trained with")
    check_finite(state, expected, f"checkpoint {ckpt_path!r}")
    return checkpoint


def load_checkpoint_weights(model: pl.LightningModule, ckpt_path: str) -> None:
    """Load a checkpoint's ``state_dict`` into ``model`` after checking that it fits."""
    model.load_state_dict(check_checkpoint_fits(model, ckpt_path)["state_dict"])


RESUME_KEYS = ("state_dict", "epoch", "global_step", "loops")  # what Lightning reads to continue a fit


def check_lightning_checkpoint(ckpt_path: str, resuming: bool) -> dict:
    """Read ``ckpt_path`` safely and check it is a Lightning checkpoint (with what resuming a fit needs)."""
    checkpoint = read_checkpoint(ckpt_path)
    needed = RESUME_KEYS if resuming else ("state_dict",)
    missing = [key for key in needed if key not in checkpoint]
    if missing:
        raise ConfigError(f"checkpoint {ckpt_path!r} is not a Lightning checkpoint{' to resume from' if resuming else ''}: "
                          f"no {', '.join(missing)}. HINT: a plain state_dict goes through --weights")
    return checkpoint


def check_hpc_checkpoints(root: str | Path) -> None:
    """Read every ``hpc_ckpt_*.ckpt`` Lightning would restore by itself under SLURM, safely, before it does."""
    for path in sorted(Path(root).glob("hpc_ckpt_*.ckpt")):
        check_lightning_checkpoint(str(path), resuming=True)
