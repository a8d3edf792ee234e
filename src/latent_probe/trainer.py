"""The Trainer used by the CLI: Lightning's, plus a ``probe`` entry point that trains nothing."""

from __future__ import annotations

from pathlib import Path

import pytorch_lightning as pl
import torch

from latent_probe.errors import ConfigError
from latent_probe.probes.base import PROBE_MOMENT, Probe
from latent_probe.registry import list_probes


class ProbeTrainer(pl.Trainer):
    """``pytorch_lightning.Trainer`` with a ``probe`` method: run the configured probes on a trained model."""

    @property
    def probes(self) -> list[Probe]:
        """The probe callbacks attached to this trainer."""
        return [callback for callback in self.callbacks if isinstance(callback, Probe)]

    def probe(self, model: pl.LightningModule, datamodule: pl.LightningDataModule | None = None, ckpt_path: str | None = None) -> None:
        """Run the configured probes once on the model (weights from ``ckpt_path`` or the model's own), no training.

        Args:
            model: the model to probe.
            datamodule: the data the probes read.
            ckpt_path: a Lightning checkpoint whose ``state_dict`` is loaded into the model first.
        """
        if not self.probes:
            available = ", ".join(list_probes()) or "none registered yet"
            raise ConfigError(f"no probes configured: add a `probes:` list to the config (available: {available})")
        if ckpt_path is not None:
            load_checkpoint_weights(model, ckpt_path)
        # The probes fire at the end of a validation pass, so that Lightning sets up the strategy,
        # devices, logger and datamodule exactly as in a real run, on every rank; the pass also logs
        # the loaded weights' val metrics (limit it with --trainer.limit_val_batches).
        for probe in self.probes:
            probe.standalone = True
        self.validate(model, datamodule=datamodule, verbose=False)
        log_dir = self.log_dir
        if self.is_global_zero:
            fired = ", ".join(p.name for p in self.probes if PROBE_MOMENT in p.fired) or "none"
            print(f"probes run: {fired}; artifacts in {Path(log_dir or '.') / 'probes'}")


def read_checkpoint(ckpt_path: str) -> dict:
    """A checkpoint loaded with ``weights_only=True`` (no arbitrary unpickling); unreadable files raise ``ConfigError``."""
    if not Path(ckpt_path).is_file():
        raise ConfigError(f"checkpoint file not found: {ckpt_path!r}")
    try:
        checkpoint = torch.load(ckpt_path, map_location="cpu", weights_only=True)
    except Exception as error:  # noqa: BLE001  pickle, zip and torch errors all mean "not a usable checkpoint"
        raise ConfigError(f"cannot read checkpoint {ckpt_path!r}: {str(error).splitlines()[0]}") from None
    if not isinstance(checkpoint, dict):
        raise ConfigError(f"checkpoint {ckpt_path!r} holds a {type(checkpoint).__name__}, not a checkpoint dict")
    return checkpoint


def check_checkpoint_fits(model: pl.LightningModule, ckpt_path: str, checkpoint: dict | None = None) -> dict:
    """Raise ``ConfigError`` unless the checkpoint is a Lightning checkpoint whose weights fit ``model``."""
    checkpoint = checkpoint if checkpoint is not None else read_checkpoint(ckpt_path)
    state = checkpoint.get("state_dict")
    if not isinstance(state, dict):
        raise ConfigError(f"checkpoint {ckpt_path!r} has no state_dict. HINT: pass a Lightning .ckpt from checkpoints/")
    expected = set(model.state_dict())
    missing, unexpected = sorted(expected - set(state)), sorted(set(state) - expected)
    if missing or unexpected:
        raise ConfigError(
            f"checkpoint {ckpt_path!r} does not fit {type(model).__name__}: missing {missing[:4]}, unexpected {unexpected[:4]}. "
            "HINT: use the config the checkpoint was trained with"
        )
    return checkpoint


def load_checkpoint_weights(model: pl.LightningModule, ckpt_path: str) -> None:
    """Load a checkpoint's ``state_dict`` into ``model`` after checking that it fits."""
    model.load_state_dict(check_checkpoint_fits(model, ckpt_path)["state_dict"])
