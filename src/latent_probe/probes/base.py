"""The ``Probe`` base: when a probe fires, which layers it reads, DDP-safe gathering and writing.

A new probe is one small file::

    from latent_probe.probes import Probe, register_probe

    @register_probe()
    class MeanActivation(Probe):
        '''Mean activation of each chosen layer.'''

        def compute(self, trainer, pl_module):
            collected = self.collect(trainer, pl_module)      # every rank; rows gathered by index
            return {path: out.mean().item() for path, out in collected.outputs.items()}

        def write(self, result, out):                         # global rank 0 only
            out.json("mean.json", result)
            out.scalars({f"{self.name}/{path}": v for path, v in result.items()})
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
import pytorch_lightning as pl
from pytorch_lightning import Callback
from pytorch_lightning.loggers import TensorBoardLogger

from latent_probe.artifacts import epoch_moment, is_complete, moment_dir
from latent_probe.errors import ConfigError, check_range
from latent_probe.probes.capture import resolve_layers
from latent_probe.probes.collect import Collected, collect_outputs
from latent_probe.probes.gather import any_rank
from latent_probe.probes.output import MomentWriter
from latent_probe.registry import require_choice

PROBE_MOMENT = "probe"  # the moment name of `latent-probe probe` runs
NAMED_MOMENTS = ("fit_end", "test_end", "validate_end")


class Probe(Callback):
    """Base of every probe: a Lightning Callback that captures, computes and writes artifacts.

    Args:
        layers: module paths or fnmatch patterns (``dict(model.named_modules())`` keys); default:
            the model's ``probe_layers`` hint for this probe, else the probe's own default.
        split: the data split the probe reads (``train``, ``val`` or ``test``).
        max_samples: at most this many samples (a seeded random subset, the same every time); None = all.
        every_n_epochs: also fire at the end of every n-th training epoch (0 = never).
        moments: named moments to fire at: ``fit_end``, ``test_end``, ``validate_end`` or a model
            phase such as ``pretrain_end``. ``latent-probe probe`` always fires (moment ``probe``).
        strict: re-raise a failure instead of warning and letting training go on.
        batch_size: batch size of the probe's own forward passes.
        seed: seed of the sample subset.
        name: artifact folder name under ``probes/`` (default: the class name in snake case).
    """

    def __init__(
        self,
        layers: Sequence[str] | None = None,
        split: Literal["train", "val", "test"] = "val",
        max_samples: int | None = 1000,
        every_n_epochs: int = 0,
        moments: Sequence[str] = ("fit_end",),
        strict: bool = False,
        batch_size: int = 256,
        seed: int = 0,
        name: str | None = None,
    ) -> None:
        super().__init__()
        check_range("every_n_epochs", every_n_epochs, minimum=0)
        check_range("batch_size", batch_size, minimum=1)
        if max_samples is not None:
            check_range("max_samples", max_samples, minimum=1)
        require_choice("split", split, ("train", "val", "test"))
        self.layer_patterns = list(layers) if layers is not None else None
        self.split, self.max_samples, self.every_n_epochs = split, max_samples, every_n_epochs
        self.moments, self.strict, self.batch_size, self.seed = list(moments), strict, batch_size, seed
        self.name = name or snake_case(type(self).__name__)
        self.layers: list[str] = []
        self.standalone = False
        self.fired: list[str] = []

    # ----- what subclasses implement -------------------------------------------------------
    def default_layers(self, pl_module: pl.LightningModule) -> list[str]:
        """Layers used when neither ``layers`` nor the model's ``probe_layers`` hint names any."""
        return []

    def check(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        """Raise ``ConfigError`` at setup if this probe cannot work on this model/data (override)."""

    def compute(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> Any:
        """Compute the result on every rank (collectives allowed, same order on all ranks)."""
        raise NotImplementedError

    def write(self, result: Any, out: MomentWriter) -> None:
        """Write ``result`` as artifacts; runs on global rank 0 only."""
        raise NotImplementedError

    # ----- helpers for subclasses ----------------------------------------------------------
    def collect(self, trainer: pl.Trainer, pl_module: pl.LightningModule, keep_inputs: bool = False) -> Collected:
        """Outputs of ``self.layers`` on the probe's samples, gathered from all ranks by dataset index."""
        return collect_outputs(
            trainer, pl_module, self.layers, self.split, self.max_samples, self.batch_size, self.seed, keep_inputs
        )

    # ----- Lightning hooks -----------------------------------------------------------------
    def resolve(self, pl_module: pl.LightningModule) -> list[str]:
        """Set ``self.layers`` from ``layers``, the model's ``probe_layers`` hint or the default; unknown paths raise."""
        patterns = self.layer_patterns
        if patterns is None:
            hints = getattr(pl_module, "probe_layers", None) or {}
            patterns = list(hints.get(self.name, hints.get(type(self).__name__, []))) or self.default_layers(pl_module)
        self.layers = resolve_layers(pl_module, patterns) if patterns else []
        return self.layers

    def setup(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        """Resolve and validate the layers before any training step, so mistakes fail fast."""
        self.resolve(pl_module)
        self.check(trainer, pl_module)

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        """Fire every ``every_n_epochs`` epochs."""
        if self.every_n_epochs and (trainer.current_epoch + 1) % self.every_n_epochs == 0:
            self.fire(trainer, pl_module, epoch_moment(trainer.current_epoch))

    def on_fit_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        """Fire at ``fit_end`` if asked."""
        if "fit_end" in self.moments:
            self.fire(trainer, pl_module, "fit_end")

    def on_test_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        """Fire at ``test_end`` if asked."""
        if "test_end" in self.moments:
            self.fire(trainer, pl_module, "test_end")

    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        """Fire once in ``latent-probe probe`` runs, and at ``validate_end`` of ``latent-probe validate`` if asked."""
        if trainer.sanity_checking or trainer.state.fn != "validate":
            return
        if self.standalone:
            self.fire(trainer, pl_module, PROBE_MOMENT)
        elif "validate_end" in self.moments:
            self.fire(trainer, pl_module, "validate_end")

    def on_phase_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule, phase: str) -> None:
        """Fire at a model's phase event (e.g. ``pretrain_end``) if it is among ``moments``."""
        if phase in self.moments:
            self.fire(trainer, pl_module, phase)

    # ----- the firing protocol -------------------------------------------------------------
    def fire(self, trainer: pl.Trainer, pl_module: pl.LightningModule, when: str) -> None:
        """Compute on every rank, write on global rank 0; a failure on any rank is handled on all."""
        log_dir = trainer.log_dir or trainer.default_root_dir  # a collective under DDP: every rank asks
        # A resumed run redoes the epoch it was killed in: a moment already written completely stays as it was.
        if trainer.strategy.broadcast(is_complete(moment_dir(log_dir, self.name, when))):
            return
        result, error = None, None
        try:
            result = self.compute(trainer, pl_module)
        except Exception as caught:  # noqa: BLE001  a probe must not kill training unless strict
            error = caught
        failed = any_rank(trainer.strategy, error is not None, pl_module.device)
        if not failed and trainer.is_global_zero:
            try:
                out = MomentWriter(log_dir, self.name, when, trainer.global_step, tensorboard_writer(trainer))
                self.write(result, out)
                out.flush()
                out.mark_complete()
            except Exception as caught:  # noqa: BLE001
                error = caught
        failed = any_rank(trainer.strategy, error is not None, pl_module.device)
        if failed:
            self._fail(when, error)
        else:
            self.fired.append(when)

    def _fail(self, when: str, error: BaseException | None) -> None:
        reason = f"{type(error).__name__}: {error}" if error is not None else "it failed on another rank"
        if self.strict or isinstance(error, ConfigError):
            raise RuntimeError(f"probe {self.name!r} failed at {when}: {reason}") from error
        warnings.warn(f"probe {self.name!r} failed at {when} and was skipped ({reason}); training goes on", stacklevel=2)


def finite_only(arrays: dict[str, Any], when: str, probe_name: str) -> dict[str, Any]:
    """The arrays without NaN or inf; each dropped one is reported by name (the probe skips drawing it)."""
    kept = {}
    for path, values in arrays.items():
        if np.isfinite(np.asarray(values)).all():
            kept[path] = values
        else:
            warnings.warn(f"probe {probe_name!r} at {when}: layer {path!r} has NaN or inf values; skipped", stacklevel=2)
    return kept


def tensorboard_writer(trainer: pl.Trainer):
    """The run's TensorBoard ``SummaryWriter``, or None when no TensorBoard logger is attached."""
    for logger in trainer.loggers:
        if isinstance(logger, TensorBoardLogger):
            return logger.experiment
    return None


def snake_case(name: str) -> str:
    """``EmbeddingDumper`` -> ``embedding_dumper``."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()
