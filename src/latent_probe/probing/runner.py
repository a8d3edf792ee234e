"""``ProbeRunner``: the one Lightning callback that runs a run's probes.

The CLI, the notebook API and a user's own ``Trainer(callbacks=[ProbeRunner([...])])`` attach it once. At each
moment it decides which probes are due (``due``: one rule), plans the moment's passes from what those probes declare
(pass_plan.py), gives each probe its ``Firing``, computes on every rank and writes on global rank 0. A probe due at
two moments of the same training step (the last epoch's ``epoch=N`` and ``fit_end``) is computed once; the second
folder's manifest says ``same_firing_as``. The probes' state (moments fired, the one an interrupt stopped, a probe's
own history) survives a resume in the runner's checkpoint entry, keyed by probe name. When a probe declares
``needs_initial_weights`` the runner keeps the model's weights as built (initial_weights.py) and their digest in the
checkpoint.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytorch_lightning as pl
import torch
from pytorch_lightning import Callback
from pytorch_lightning.utilities import rank_zero_warn
from torch import nn

from latent_probe.dataspec import DataSpec, build_data_spec, data_readable_at_setup
from latent_probe.errors import ConfigError
from latent_probe.probing.firing import Firing
from latent_probe.probing.hooks import device_of
from latent_probe.probing.host import probed_model
from latent_probe.probing.initial_weights import InitialWeights
from latent_probe.probing.moment_output import already_written, tensorboard_writer, write_moment
from latent_probe.probing.moments import epoch_moment
from latent_probe.probing.pass_plan import SharedPasses
from latent_probe.probing.probe import Probe
from latent_probe.probing.progress import moment_progress
from latent_probe.probing.setup import check_unique_names, prepare_probes
from latent_probe.probing.sharding import any_rank


class ProbeRunner(Callback):
    """Runs ``probes`` at their moments: one shared pass per split and moment, results written into the run folder.

    Args:
        probes: the run's probes (names unique: each writes ``probes/<name>/``).
    """

    def __init__(self, probes: Sequence[Probe]) -> None:
        self.probes = list(probes)
        check_unique_names(self.probes)
        self.spec: DataSpec | None = None
        self.fired: dict[str, list[str]] = {probe.name: [] for probe in self.probes}
        self._writing: dict[str, str] = {}  # probe -> the moment being written (an interrupt's checkpoint records it)
        self._interrupted: dict[str, str] = {}  # restored from such a checkpoint: redone before training goes on
        self._posthoc: str | None = None  # `latent-probe probe`: every probe fires once, at this moment
        # probe -> (step stamp, moment, result, what its manifest adds) of its last computation
        self._last: dict[str, tuple[tuple, str, Any, dict]] = {}
        self.initial: InitialWeights | None = None  # the model's weights as built, kept when a probe needs them
        self._run_start_digest: str | None = None  # a resumed run: the digest of the initial weights the run started with

    @property
    def state_key(self) -> str:
        """One entry in a checkpoint's callback states, whatever the probes."""
        return type(self).__qualname__

    # ----- setting up --------------------------------------------------------------------------
    def prepare(self, model: nn.Module, spec: DataSpec) -> None:
        """Set every probe up on ``model`` and ``spec`` (one setup forward pass); raises ``ConfigError`` on a problem."""
        prepare_probes(self.probes, model, spec)
        self.spec = spec
        self.keep_initial_weights(model)

    def keep_initial_weights(self, model: nn.Module) -> None:
        """Keep a CPU copy of ``model``'s parameters and buffers once, if a probe needs them (before training and
        before any checkpoint's weights: ``prepare`` and Lightning's ``setup`` hook both come before those)."""
        if self.initial is None and any(probe.needs_initial_weights for probe in self.probes):
            self.initial = InitialWeights(model)

    @property
    def prepared(self) -> bool:
        """Whether ``prepare`` ran."""
        return self.spec is not None

    def fire_once_at(self, moment: str) -> None:
        """Make every probe fire once, at ``moment``, when the coming validation pass ends (a post-hoc run)."""
        self._posthoc = moment

    def setup(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        """Outside the CLI, set the probes up from the trainer's datamodule; plain dataloaders are read at the first moment."""
        if not self.prepared and data_readable_at_setup(trainer):
            self.prepare(probed_model(pl_module), build_data_spec(trainer=trainer))
        self.keep_initial_weights(probed_model(pl_module))  # plain dataloaders: the probes are prepared only at the first moment

    # ----- when probes are due -------------------------------------------------------------------
    def due(self, probe: Probe, moment: str, epoch: int) -> bool:
        """The one rule: a post-hoc run fires everything once; an epoch's end every ``every_n_epochs``; else ``moments``."""
        if self._posthoc is not None:
            return moment == self._posthoc
        if moment == epoch_moment(epoch):
            return bool(probe.every_n_epochs) and (epoch + 1) % probe.every_n_epochs == 0
        return moment in probe.moments

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        """Redo the moments an interrupt (Ctrl-C, SIGTERM) stopped while they were written, with the restored weights."""
        self._redo_interrupted(trainer, pl_module)

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        """Fire the probes due after this epoch."""
        self.fire(trainer, pl_module, epoch_moment(trainer.current_epoch))

    def on_fit_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        """Fire at ``fit_end`` (after an interrupted moment a resumed run had no epoch left to redo)."""
        self._redo_interrupted(trainer, pl_module)
        self.fire(trainer, pl_module, "fit_end")

    def on_test_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        """Fire at ``test_end``."""
        self.fire(trainer, pl_module, "test_end")

    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        """Fire a post-hoc run's moment, or ``validate_end`` of ``latent-probe validate``."""
        if not trainer.sanity_checking and trainer.state.fn == "validate":
            self.fire(trainer, pl_module, self._posthoc or "validate_end")

    def on_phase_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule, phase: str) -> None:
        """Fire at a model's phase event (e.g. ``pretrain_end``)."""
        self.fire(trainer, pl_module, phase)

    def _redo_interrupted(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        # The interrupt's checkpoint was saved during that firing: its weights and step are the moment's own.
        interrupted, self._interrupted = self._interrupted, {}
        for moment in dict.fromkeys(interrupted.values()):
            self.fire(trainer, pl_module, moment, [p for p in self.probes if interrupted.get(p.name) == moment])

    # ----- firing ------------------------------------------------------------------------------
    def fire(self, trainer: pl.Trainer, pl_module: nn.Module, moment: str, probes: Sequence[Probe] | None = None) -> None:
        """Fire ``probes`` (default: those due) at ``moment``: compute on every rank, write on global rank 0."""
        due = list(probes) if probes is not None else [p for p in self.probes if self.due(p, moment, trainer.current_epoch)]
        if not due:
            return
        model = probed_model(pl_module)
        if not self.prepared:  # a trainer's plain dataloaders: Lightning has loaded them by now
            self.prepare(model, build_data_spec(trainer=trainer))
        log_dir = trainer.log_dir or trainer.default_root_dir  # a collective under DDP: every rank asks
        stamp = (trainer.global_step, str(trainer.state.fn))
        with moment_progress(trainer, moment, [p.name for p in due], log_dir) as progress:  # shown on rank 0 only
            passes = SharedPasses(trainer, model, self.spec, [p for p in due if not self._reusable(p, stamp)], device_of(model),
                                  progress.pass_over, self.initial)
            for probe in due:
                # A resumed run redoes the epoch it was killed in: a moment already written completely, at this same training
                # step, stays as it was. One written at another step (a finished run trained further: fit_end) is redone.
                if trainer.strategy.broadcast(already_written(log_dir, probe, moment, trainer.global_step)):
                    continue
                progress.computing(probe.name)
                progress.finished(probe.name, self._fire_one(trainer, model, moment, probe, passes, log_dir, stamp))

    def _reusable(self, probe: Probe, stamp: tuple) -> bool:
        return probe.name in self._last and self._last[probe.name][0] == stamp

    def _fire_one(self, trainer: pl.Trainer, model: nn.Module, moment: str, probe: Probe, passes: SharedPasses, log_dir: str,
                  stamp: tuple) -> bool:
        """Compute and write one probe's moment; whether it was written (a failure is skipped with a warning, or raised)."""
        self._writing[probe.name] = moment  # left set if an interrupt (a BaseException) stops this firing
        same_as = None
        if self._reusable(probe, stamp):  # the same weights at the same step: the same result
            _, same_as, result, notes = self._last[probe.name]
            error = None
        else:
            result, error, notes = self._compute(Firing(probe, moment, trainer, model, passes, log_dir))
        device = device_of(model)
        failed = any_rank(trainer.strategy, error is not None, device)
        if not failed and trainer.is_global_zero:
            try:
                write_moment(log_dir, probe, moment, trainer.global_step, result,
                             None if same_as else tensorboard_writer(trainer), same_as, notes)  # TensorBoard has that step already
            except Exception as caught:  # noqa: BLE001
                error = caught
        failed = any_rank(trainer.strategy, error is not None, device)
        self._writing.pop(probe.name, None)
        if failed:
            self._fail(probe, moment, error)
            return False
        if moment not in self.fired[probe.name]:
            self.fired[probe.name].append(moment)
        if same_as is None:
            self._last[probe.name] = (stamp, moment, result, notes)
        return True

    def _compute(self, firing: Firing) -> tuple[Any, Exception | None, dict[str, Any]]:
        """The probe's result or the error it raised, and what its manifest adds (the initial weights, when it read them)."""
        result, error = None, None
        try:
            # Lightning fires validation and test hooks under inference mode, where no autograd graph can be built:
            # leave it, so that probes that differentiate (integrated gradients, saliency) work at every moment.
            with torch.inference_mode(False):
                result = firing.probe.compute(firing)
        except Exception as caught:  # noqa: BLE001  a probe must not kill training unless strict
            error = caught
        used = firing.used_initial_weights and self.initial is not None
        return result, error, {"initial_weights": self.initial.record()} if used else {}  # type: ignore[union-attr]

    def _fail(self, probe: Probe, moment: str, error: BaseException | None) -> None:
        reason = f"{type(error).__name__}: {error}" if error is not None else "it failed on another rank"
        if probe.strict or isinstance(error, ConfigError):
            raise RuntimeError(f"probe {probe.name!r} failed at {moment}: {reason}") from error
        rank_zero_warn(f"probe {probe.name!r} failed at {moment} and was skipped ({reason}); training goes on")

    # ----- state that survives resume ----------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """Per probe: the moments fired, the one being written (saved by an interrupt) and the probe's own history; the
        digest of the initial weights the run started with, when kept."""
        state: dict[str, Any] = {"probes": {probe.name: {"fired": list(self.fired[probe.name]),
                                                         "interrupted": self._writing.get(probe.name), **probe.extra_state()}
                                            for probe in self.probes}}
        if self.initial is not None:
            state["initial_weights_digest"] = self._run_start_digest or self.initial.digest
        return state

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore what ``state_dict`` returned (on resume); probes the checkpoint does not know start afresh."""
        saved = state_dict.get("probes") if isinstance(state_dict.get("probes"), dict) else {}
        for probe in self.probes:
            state = saved.get(probe.name)
            if not isinstance(state, dict):
                continue
            self.fired[probe.name] = [m for m in state.get("fired", []) if isinstance(m, str)]
            if isinstance(state.get("interrupted"), str):
                self._interrupted[probe.name] = state["interrupted"]
            probe.load_extra_state(state)
        self._compare_initial_weights(state_dict.get("initial_weights_digest"))

    def _compare_initial_weights(self, digest: Any) -> None:
        # A resumed run built its model again: equal to the run's start only if built the same way (same seed).
        if not isinstance(digest, str) or self.initial is None:
            return
        self._run_start_digest = digest
        self.initial.same_as_run_start = digest == self.initial.digest
        if not self.initial.same_as_run_start:
            rank_zero_warn("the resumed run's model, built again from its config, differs from the one the run started with "
                           "(another seed?): probes reading the initial weights read the rebuilt ones, and their manifests say so")
