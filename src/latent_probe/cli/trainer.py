"""The Trainer used by the CLI: Lightning's, plus a ``probe`` entry point that trains nothing."""

from __future__ import annotations

from pathlib import Path

import pytorch_lightning as pl

from latent_probe.artifacts.report import write_report
from latent_probe.cli.checkpoints import load_checkpoint_weights
from latent_probe.errors import ConfigError
from latent_probe.probing import Probe
from latent_probe.probing.moments import posthoc_moment
from latent_probe.registry import list_probes


class ProbeTrainer(pl.Trainer):
    """``pytorch_lightning.Trainer`` with a ``probe`` method: run the configured probes on a trained model."""

    posthoc_moment: str | None = None  # the moment a `probe` call writes (``probe``, ``probe-2``, ...)

    @property
    def probes(self) -> list[Probe]:
        """The probe callbacks attached to this trainer."""
        return [callback for callback in self.callbacks if isinstance(callback, Probe)]

    def probe(self, model: pl.LightningModule, datamodule: pl.LightningDataModule | None = None, ckpt_path: str | None = None,
              weights_only: bool | None = None) -> None:
        """Run the configured probes once on the model (weights from ``ckpt_path`` or the model's own), no training.

        The moment is ``probe`` (``probe-2``, ... when the run folder already has one); the run's report is rewritten.

        Args:
            model: the model to probe.
            datamodule: the data the probes read.
            ckpt_path: a Lightning checkpoint whose ``state_dict`` is loaded into the model first.
            weights_only: accepted so that a run's saved config.yaml works; checkpoints are always read with
                ``weights_only=True`` (false is refused).
        """
        if weights_only is False:
            raise ConfigError("weights_only: false is refused: checkpoints are read with weights_only=True (nothing unpickled)")
        if not self.probes:
            available = ", ".join(list_probes()) or "none registered yet"
            raise ConfigError(f"no probes configured: add a `probes:` list to the config (available: {available})")
        if ckpt_path is not None:
            load_checkpoint_weights(model, ckpt_path)
        # The probes fire at the end of a validation pass, so that Lightning sets up the strategy,
        # devices, logger and datamodule exactly as in a real run, on every rank; the pass also logs
        # the loaded weights' val metrics (limit it with --trainer.limit_val_batches).
        moment = posthoc_moment(self.log_dir or self.default_root_dir, [p.name for p in self.probes])
        for probe in self.probes:
            probe.standalone_moment = moment
        self.posthoc_moment = moment  # the saved config is named after it (cli/run_config.py)
        self.validate(model, datamodule=datamodule, verbose=False)
        log_dir = self.log_dir or self.default_root_dir
        if self.is_global_zero:
            fired = ", ".join(p.name for p in self.probes if moment in p.fired) or "none"
            report = write_report(log_dir)
            print(f"probes run: {fired}; artifacts in {Path(log_dir) / 'probes'}/*/{moment}; report: {report}")
