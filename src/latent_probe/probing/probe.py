"""The ``Probe`` base: when a probe fires, which layers it reads, the setup checks, DDP-safe computing and writing.

A new probe is one small file::

    from latent_probe.probing import Probe, register_probe

    @register_probe()
    class MeanActivation(Probe):
        '''Mean activation of each chosen layer.'''

        def compute(self, trainer, pl_module):
            sample = self.activations(trainer, pl_module)       # every rank; rows gathered by index
            return {layer: out.mean().item() for layer, out in sample.outputs.items()}

        def write(self, result, out):                          # global rank 0 only
            out.json("mean.json", result)
            out.scalars({f"{self.name}/{layer}": v for layer, v in result.items()})
"""

from __future__ import annotations

import inspect
import re
import shutil
import warnings
from collections.abc import Sequence
from typing import Any, ClassVar, Literal

import pytorch_lightning as pl
import torch
from pytorch_lightning import Callback
from pytorch_lightning.loggers import TensorBoardLogger

from latent_probe.artifacts.writer import MomentWriter, is_complete, moment_dir, read_manifest
from latent_probe.dataspec import SPLITS, DataSpec, build_data_spec, data_readable_at_setup, declared_classes
from latent_probe.errors import ConfigError, check_range, require_choice
from latent_probe.probing.activations import Activations, sample_activations
from latent_probe.probing.dry_run import DryRun, dry_run
from latent_probe.probing.layers import module_paths, named_exactly, resolve_layers
from latent_probe.probing.moments import check_moment_names, check_moments, epoch_moment, model_phases
from latent_probe.probing.pass_rows import rows_per_pass
from latent_probe.probing.pooling import Pooling
from latent_probe.probing.sharding import any_rank
from latent_probe.probing.shared_pass import shared_activations

LAYER_HINT = "probes read modules called once per forward pass (give each activation its own module), or set `layers`"


class Probe(Callback):
    """Base of every probe: a Lightning Callback that reads chosen layers at chosen moments and writes artifacts.

    Args:
        layers: layer names (module paths, ``path[part]`` for a part of a tuple/dict output) or patterns
            (fnmatch, where ``*`` crosses dots, or ``re:<regex>``); default: the model's ``probe_layers``
            hint for this probe, else the probe's own default.
        split: the data split the probe reads (``train``, ``val`` or ``test``).
        max_samples: at most this many samples (a seeded random subset, the same every time); None = all.
        every_n_epochs: also fire at the end of every n-th training epoch (0 = never).
        moments: named moments to fire at: ``fit_end``, ``test_end``, ``validate_end`` or a model
            phase such as ``pretrain_end``. ``latent-probe probe`` always fires (moment ``probe``).
        strict: re-raise a failure instead of warning and letting training go on.
        batch_size: batch size of the probe's own forward passes (default: 64 on a CPU, where cache-sized
            batches run fastest, 512 on an accelerator).
        seed: seed of the sample subset.
        name: artifact folder name under ``probes/`` (default: the class name in snake case).
        token_pooling: how a ``(N, T, D)`` token output is stored: ``mean`` over tokens, the ``first`` (CLS) token,
            or ``flatten``.
        max_features: ``(N, C, H, W)`` maps with more values per sample are average-pooled over space to fit
            (``null``: keep all). What was done to each layer is recorded in the moment's ``manifest.json``.
    """

    writing: str | None = None  # the moment being fired (an interrupt's checkpoint records it)
    interrupted: str | None = None  # restored from such a checkpoint: redone before training goes on
    reads_activations: ClassVar[bool] = True  # False for probes that read weights only (no setup forward pass)
    needs_labels: ClassVar[bool] = False  # True: setup fails when the data has no labels
    skip_unreadable_defaults: ClassVar[bool] = True  # default layers called twice (or giving no tensor) are skipped, not errors
    keeps_inputs: ClassVar[bool] = False  # True: asks for the inputs with its activations (a shared pass then keeps them)

    def __init__(
        self,
        layers: Sequence[str] | None = None,
        split: Literal["train", "val", "test"] = "val",
        max_samples: int | None = 1000,
        every_n_epochs: int = 0,
        moments: Sequence[str] = ("fit_end",),
        strict: bool = False,
        batch_size: int | None = None,
        seed: int = 0,
        name: str | None = None,
        token_pooling: Literal["mean", "first", "flatten"] = "mean",
        max_features: int | None = 1024,
    ) -> None:
        super().__init__()
        check_range("every_n_epochs", every_n_epochs, minimum=0)
        if batch_size is not None:
            check_range("batch_size", batch_size, minimum=1)
        if max_samples is not None:
            check_range("max_samples", max_samples, minimum=1)
        check_range("seed", seed, minimum=0, maximum=2**32 - 1)  # what torch's generators and scikit-learn both take
        require_choice("split", split, SPLITS)
        self.layer_patterns = list(layers) if layers is not None else None
        self.split, self.max_samples, self.every_n_epochs = split, max_samples, every_n_epochs
        self.moments, self.strict, self.batch_size, self.seed = check_moment_names(moments), strict, batch_size, seed
        self.name = name or snake_case(type(self).__name__)
        if not re.fullmatch(r"[A-Za-z0-9_.=-]+", self.name) or self.name in (".", ".."):
            raise ConfigError(f"probe name {self.name!r} must be a plain folder name (letters, digits, '_', '-', '.', '=')")
        self.pooling = Pooling(token_pooling, max_features)
        self.layers: list[str] = []
        self.layer_parts: dict[str, str] = {}
        self.layer_shapes: dict[str, tuple[int, ...]] = {}
        self.left_out: dict[str, str] = {}  # layer -> why the setup pass left it out (said in the manifest)
        self.spec: DataSpec | None = None
        self.standalone_moment: str | None = None  # set by `latent-probe probe`: fire once, at this moment
        self.fired: list[str] = []
        self.firing: str | None = None  # the moment being computed (probes firing at the same one share their passes)

    # ----- what subclasses implement -------------------------------------------------------
    def default_layers(self, pl_module: pl.LightningModule) -> list[str]:
        """Layers used when neither ``layers`` nor the model's ``probe_layers`` hint names any."""
        return []

    def splits(self) -> list[str]:
        """The splits this probe reads (checked at setup)."""
        return [self.split] if self.reads_activations else []

    def check(self, spec: DataSpec, pl_module: pl.LightningModule, run: DryRun | None) -> None:
        """Raise ``ConfigError`` at setup if this probe cannot work on this model and data (override).

        ``run`` is the setup forward pass (None for probes that read no activations): the calls, parts
        and output shapes of ``self.layers``.
        """

    def compute(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> Any:
        """Compute the result on every rank (collectives allowed, same order on all ranks)."""
        raise NotImplementedError

    def write(self, result: Any, out: MomentWriter) -> None:
        """Write ``result`` as artifacts; runs on global rank 0 only."""
        raise NotImplementedError

    def extra_state(self) -> dict[str, Any]:
        """What the probe must keep across a resume besides the moments it fired (override with ``load_extra_state``)."""
        return {}

    def load_extra_state(self, state: dict[str, Any]) -> None:
        """Restore what ``extra_state`` returned."""

    # ----- helpers for subclasses ----------------------------------------------------------
    def activations(self, trainer: pl.Trainer, pl_module: pl.LightningModule, keep_inputs: bool = False,
                    split: str | None = None) -> Activations:
        """Outputs of ``self.layers`` on the probe's samples of ``split`` (default: the probe's), gathered from all ranks.

        While the probe fires, the forward passes are shared with the other probes firing at the same moment.
        """
        if self.firing is None:
            return sample_activations(trainer, pl_module, self.spec, self.layers, split or self.split, self.max_samples,
                                      self.pass_rows(pl_module), self.seed, keep_inputs, self.pooling)
        partners = [p for p in trainer.callbacks if isinstance(p, Probe) and p is not self and p.reads_activations
                    and p.spec is not None and p.due_at(trainer, self.firing)]
        return shared_activations(trainer, pl_module, self, partners, self.firing, split or self.split, keep_inputs)

    def pass_rows(self, pl_module: pl.LightningModule) -> int:
        """Samples per forward pass of the probe's own: ``batch_size``, else the default for the model's device."""
        return rows_per_pass(self.batch_size, pl_module.device, accelerator_rows=512)

    # ----- setup ---------------------------------------------------------------------------
    def resolve(self, pl_module: pl.LightningModule) -> list[str]:
        """Set ``self.layers`` from ``layers``, the model's ``probe_layers`` hint or the default; unknown names raise."""
        patterns = self.layer_patterns
        if patterns is None:
            hints = getattr(pl_module, "probe_layers", None) or {}
            patterns = list(hints.get(self.name, hints.get(type(self).__name__, []))) or self.default_layers(pl_module)
        self.layers = resolve_layers(pl_module, patterns) if patterns else []
        return self.layers

    def prepare(self, spec: DataSpec, pl_module: pl.LightningModule, run: DryRun | None) -> None:
        """Check the layers against the setup forward pass, then the probe's own needs; keep the spec."""
        if self.reads_activations and run is not None and self.layers:
            self._check_layers(run)
        if self.needs_labels:
            spec.require_labels(self.name)
        self.check(spec, pl_module, run)
        self.spec = spec

    def _check_layers(self, run: DryRun) -> None:
        """Keep the layers the setup pass can read. A problem with a layer of ``layers`` is an error, except a module
        matched only by a pattern and never called: it is left out, as default layers that cannot be read are."""
        explicit = self.layer_patterns is not None
        named = named_exactly(self.layer_patterns) if explicit else set()
        why = "never called by the forward pass; " + ("matched only by a pattern" if explicit else "a default layer")
        self.left_out = {layer: why for layer in run.never_called(self.layers) if layer not in named}
        if explicit and len(self.left_out) == len(self.layers):
            raise ConfigError(f"layers {self.layer_patterns} match only modules the forward pass never calls: "
                              f"{', '.join(self.left_out)}. HINT: latent-probe layers --config ... lists the modules it calls")
        problems = run.problems(self.layers, named)
        if problems:
            if explicit or not self.skip_unreadable_defaults:
                raise ConfigError(f"{problems[0]}. HINT: {LAYER_HINT}")
            warnings.warn(f"probe {self.name!r} skips default layers it cannot read: {'; '.join(problems)}", stacklevel=2)
        self.layers = [layer for layer in self.layers if run.layers[layer].count == 1 and not run.layers[layer].problem
                       and run.layers[layer].shapes[0][:1] == (run.batch_size,)]
        self.layer_parts = {layer: run.layers[layer].part for layer in self.layers}
        self.layer_shapes = {layer: run.layers[layer].shapes[0][1:] for layer in self.layers}

    def setup(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        """Outside the CLI (which prepares probes before the trainer exists), prepare every probe of the trainer now,
        or, for plain dataloaders that Lightning loads later, at the first firing."""
        if self.spec is None and data_readable_at_setup(trainer):
            self._prepare_waiting(trainer, pl_module)

    def _prepare_waiting(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        probes = [p for p in trainer.callbacks if isinstance(p, Probe)]
        check_unique_names(probes)  # those prepared earlier too: one name, one folder
        prepare_probes([p for p in probes if p.spec is None], pl_module, build_data_spec(trainer=trainer))

    # ----- when to fire --------------------------------------------------------------------
    def due_at(self, trainer: pl.Trainer, when: str) -> bool:
        """Whether this probe fires at moment ``when`` of the current epoch (what the hooks below decide)."""
        if self.standalone_moment:
            return when == self.standalone_moment
        if when == epoch_moment(trainer.current_epoch):
            return self._fires_after_epoch(trainer.current_epoch)
        return when in self.moments

    def _fires_after_epoch(self, epoch: int) -> bool:
        return bool(self.every_n_epochs) and (epoch + 1) % self.every_n_epochs == 0

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        """Redo the moment an interrupt (Ctrl-C, SIGTERM) stopped while it was written, with the restored weights."""
        self._redo_interrupted(trainer, pl_module)

    def _redo_interrupted(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        # The interrupt's checkpoint was saved during that firing: its weights and step are the moment's own.
        moment, self.interrupted = self.interrupted, None
        if moment:
            self.fire(trainer, pl_module, moment)

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        """Fire every ``every_n_epochs`` epochs."""
        if self._fires_after_epoch(trainer.current_epoch):
            self.fire(trainer, pl_module, epoch_moment(trainer.current_epoch))

    def on_fit_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        """Fire at ``fit_end`` if asked (after an interrupted moment a resumed run had no epoch left to redo)."""
        self._redo_interrupted(trainer, pl_module)
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
        if self.standalone_moment:
            self.fire(trainer, pl_module, self.standalone_moment)
        elif "validate_end" in self.moments:
            self.fire(trainer, pl_module, "validate_end")

    def on_phase_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule, phase: str) -> None:
        """Fire at a model's phase event (e.g. ``pretrain_end``) if it is among ``moments``."""
        if phase in self.moments:
            self.fire(trainer, pl_module, phase)

    # ----- state that survives resume --------------------------------------------------------
    @property
    def state_key(self) -> str:
        """Checkpoint key of this probe's state: its class and name, so two probes of one class keep theirs apart."""
        return f"{type(self).__qualname__}[{self.name}]"

    def state_dict(self) -> dict[str, Any]:
        """The moments already fired, the one being written (saved by an interrupt) and the probe's own history."""
        return {"fired": list(self.fired), "interrupted": self.writing, **self.extra_state()}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore what ``state_dict`` returned (on resume)."""
        self.fired = list(state_dict.get("fired", []))
        interrupted = state_dict.get("interrupted")
        self.interrupted = interrupted if isinstance(interrupted, str) else None
        self.load_extra_state(state_dict)

    # ----- the firing protocol -------------------------------------------------------------
    def fire(self, trainer: pl.Trainer, pl_module: pl.LightningModule, when: str) -> None:
        """Compute on every rank, write on global rank 0; a failure on any rank is handled on all."""
        log_dir = trainer.log_dir or trainer.default_root_dir  # a collective under DDP: every rank asks
        # A resumed run redoes the epoch it was killed in: a moment already written completely, at this same training
        # step, stays as it was. One written at another step (a finished run trained further: fit_end) is redone.
        folder = moment_dir(log_dir, self.name, when)
        if trainer.strategy.broadcast(is_complete(folder, run=log_dir)
                                      and read_manifest(folder, run=log_dir).get("step") == trainer.global_step):
            return
        # Left set if an interrupt (a BaseException) stops this firing: the interrupt's checkpoint then names it.
        self.writing = when
        result, error = None, None
        try:
            if self.spec is None:
                self._prepare_waiting(trainer, pl_module)
            # Lightning fires validation and test hooks under inference mode, where no autograd graph can be built:
            # leave it, so that probes that differentiate (integrated gradients, saliency) work at every moment.
            with torch.inference_mode(False):
                self.firing = when
                result = self.compute(trainer, pl_module)
        except Exception as caught:  # noqa: BLE001  a probe must not kill training unless strict
            error = caught
        finally:
            self.firing = None
        failed = any_rank(trainer.strategy, error is not None, pl_module.device)
        if not failed and trainer.is_global_zero:
            try:
                if folder.exists():  # stale (another step) or half-written (a killed run): none of it may stay mixed in
                    shutil.rmtree(folder)
                out = MomentWriter(log_dir, self.name, when, trainer.global_step, tensorboard_writer(trainer), self.about(),
                                   background=True)
                try:
                    self.write(result, out)
                    out.flush()
                    out.mark_complete()
                finally:
                    out.close()  # no picture of this firing is still being written once it is over
            except Exception as caught:  # noqa: BLE001
                error = caught
        failed = any_rank(trainer.strategy, error is not None, pl_module.device)
        self.writing = None
        if failed:
            self._fail(when, error)
        elif when not in self.fired:
            self.fired.append(when)

    def about(self) -> dict[str, Any]:
        """What the moment's manifest says of this probe: class, description, layers with the part read, split."""
        doc = (inspect.getdoc(type(self)) or "").split("\n\n")[0].replace("\n", " ")
        about = {"class": f"{type(self).__module__}.{type(self).__qualname__}", "description": doc,
                 "layers": [self._layer_record(layer) for layer in self.layers],
                 "split": self.split if self.reads_activations else None}
        if self.left_out:  # modules a pattern matched that the forward pass never calls: the reader sees why they are missing
            about["left_out"] = [{"layer": layer, "why": why} for layer, why in self.left_out.items()]
        return about

    def _layer_record(self, layer: str) -> dict[str, Any]:
        record: dict[str, Any] = {"layer": layer, "part": self.layer_parts.get(layer, "")}
        if layer in self.layer_shapes:
            shape = self.layer_shapes[layer]
            mask_key = self.spec.mask_key if self.spec is not None and isinstance(self.spec.mask_key, str) else None
            record.update(shape=list(shape), stored=self.pooling.describe(shape, mask_key))
        return record

    def _fail(self, when: str, error: BaseException | None) -> None:
        reason = f"{type(error).__name__}: {error}" if error is not None else "it failed on another rank"
        if self.strict or isinstance(error, ConfigError):
            raise RuntimeError(f"probe {self.name!r} failed at {when}: {reason}") from error
        warnings.warn(f"probe {self.name!r} failed at {when} and was skipped ({reason}); training goes on", stacklevel=2)


def prepare_probes(probes: Sequence[Probe], pl_module: pl.LightningModule, spec: DataSpec) -> None:
    """Resolve every probe's layers, run one setup forward pass with all of them hooked, and check each probe.

    Any problem is a ``ConfigError`` naming the probe, raised before training (and, from the CLI,
    before any run folder exists).
    """
    check_unique_names(probes)
    phases = model_phases(pl_module)
    for probe in probes:
        with _naming(probe):
            check_moments(probe.moments, phases, type(pl_module).__name__)
    spec.check_class_names(declared_classes(pl_module), type(pl_module).__name__)
    for probe in probes:
        with _naming(probe):
            probe.resolve(pl_module)
    readers = [probe for probe in probes if probe.reads_activations and probe.layers]
    run = None
    if readers:
        layers = [layer for probe in readers for layer in probe.layers]
        with _naming(readers[0]):
            run = dry_run(pl_module, spec, readers[0].split, layers)
    for probe in probes:
        with _naming(probe):
            for split in probe.splits():
                if len(spec.dataset(split)) == 0:  # type: ignore[arg-type]
                    raise ConfigError(f"the {split!r} split of {spec.source} has no samples")
            probe.prepare(spec, pl_module, run)


def check_unique_names(probes: Sequence[Probe]) -> None:
    """Raise when two probes share a name: they would write into one folder and one checkpoint entry."""
    seen: dict[str, Probe] = {}
    for probe in probes:
        if probe.name in seen:
            raise ConfigError(
                f"two probes are named {probe.name!r} ({type(seen[probe.name]).__name__} and {type(probe).__name__}): both "
                f"would write probes/{probe.name}/, so one would silently lose its artifacts. HINT: set `name:` on one of them, "
                f"e.g. name: {probe.name}_2"
            )
        seen[probe.name] = probe


class _naming:
    """Prefix a setup error with the probe it concerns (once)."""

    def __init__(self, probe: Probe) -> None:
        self.prefix = f"probe {probe.name!r}"

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind, error, traceback) -> bool:
        if isinstance(error, ConfigError) and not str(error).startswith(self.prefix):
            raise ConfigError(f"{self.prefix}: {error}") from None
        return False


def tensorboard_writer(trainer: pl.Trainer):
    """The run's TensorBoard ``SummaryWriter``, or None when no TensorBoard logger is attached."""
    for logger in trainer.loggers:
        if isinstance(logger, TensorBoardLogger):
            return logger.experiment
    return None


def snake_case(name: str) -> str:
    """``EmbeddingDumper`` -> ``embedding_dumper``."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


__all__ = ["Probe", "module_paths", "prepare_probes", "snake_case", "tensorboard_writer"]
