"""The Trainer used by the CLI: Lightning's, plus a ``probe`` entry point that trains nothing."""

from __future__ import annotations

from pathlib import Path

import pytorch_lightning as pl
from torch import nn

from latent_probe.artifacts.report import write_report
from latent_probe.cli.checkpoints import load_checkpoint_weights
from latent_probe.errors import ConfigError
from latent_probe.probing import Probe, ProbeRunner, build_data_spec
from latent_probe.probing.host import ProbeHost
from latent_probe.probing.moments import PROBE_MOMENT, posthoc_moment
from latent_probe.registry import list_probes


class ProbeTrainer(pl.Trainer):
    """``pytorch_lightning.Trainer`` with a ``probe`` method: run the configured probes on a trained model."""

    posthoc_moment: str | None = None  # the moment a `probe` call writes (``probe``, ``probe-2``, ...)
    posthoc_name: str = PROBE_MOMENT  # what that moment is called: ``compare`` for `latent-probe compare`

    @property
    def probe_runner(self) -> ProbeRunner | None:
        """The ``ProbeRunner`` among this trainer's callbacks, if any."""
        return next((callback for callback in self.callbacks if isinstance(callback, ProbeRunner)), None)

    @property
    def probes(self) -> list[Probe]:
        """The probes this trainer runs."""
        runner = self.probe_runner
        return list(runner.probes) if runner is not None else []

    def probe(self, model: nn.Module, datamodule: pl.LightningDataModule | None = None, ckpt_path: str | None = None,
              weights_only: bool | None = None) -> None:
        """Run the configured probes once on the model (weights from ``ckpt_path`` or the model's own), no training.

        The moment is ``probe`` (``probe-2``, ... when the run folder already has one; ``posthoc_name`` for another name);
        the run's report is rewritten.
        The model's own steps never run: it needs no loss and the data no labels (unless a probe needs them).

        Args:
            model: the model to probe (a LightningModule or any ``nn.Module``).
            datamodule: the data the probes read.
            ckpt_path: a Lightning checkpoint whose ``state_dict`` is loaded into the model first.
            weights_only: accepted so that a run's saved config.yaml works; checkpoints are always read with
                ``weights_only=True`` (false is refused).
        """
        if weights_only is False:
            raise ConfigError("weights_only: false is refused: checkpoints are read with weights_only=True (nothing unpickled)")
        runner = self.probe_runner
        if runner is None or not runner.probes:
            available = ", ".join(list_probes()) or "none registered yet"
            raise ConfigError(f"no probes configured: add a `probes:` list to the config (available: {available})")
        if not runner.prepared:  # before the checkpoint's weights: the runner keeps the initial weights when prepared
            runner.prepare(model, build_data_spec(datamodule=datamodule))
        if ckpt_path is not None:
            load_checkpoint_weights(model, ckpt_path)
        moment = posthoc_moment(self.log_dir or self.default_root_dir, self.posthoc_name)
        runner.fire_once_at(moment)
        self.posthoc_moment = moment  # the saved config is named after it (cli/run_config.py)
        self._probe_pass(ProbeHost(model))
        log_dir = self.log_dir or self.default_root_dir
        if self.is_global_zero:
            fired = ", ".join(p.name for p in runner.probes if moment in runner.fired[p.name]) or "none"
            report = write_report(log_dir)
            print(f"probes run: {fired}; artifacts in {Path(log_dir) / 'probes'}/*/{moment}; report: {report}")

    def _probe_pass(self, host: ProbeHost) -> None:
        """One one-item validation pass of the host: Lightning sets up processes, devices and logger; the runner fires at its end."""
        limit = self.limit_val_batches
        self.limit_val_batches = 1  # a config's limit_val_batches: 0 would skip the pass, and the probes with it
        try:
            self.validate(host, dataloaders=host.one_step_loader(), verbose=False)
        finally:
            self.limit_val_batches = limit
