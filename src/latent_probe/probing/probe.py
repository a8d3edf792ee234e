"""The ``Probe`` base: everything a probe author writes. ``Firing`` (firing.py) is what a probe receives.

A new probe is one small file::

    from latent_probe.probing import Probe, register_probe

    @register_probe()
    class MeanActivation(Probe):
        '''Mean activation of each chosen layer.'''

        def compute(self, firing):                             # every rank
            sample = firing.activations()                      # rows gathered from all ranks, by dataset index
            return {layer: out.mean().item() for layer, out in sample.outputs.items()}

        def write(self, result, out):                          # global rank 0 only
            out.json("mean.json", result)
            out.scalars({f"{self.name}/{layer}": v for layer, v in result.items()})

A probe declares what it reads (``layers``, ``split``/``splits()``, ``max_samples``, ``keeps_inputs``, ``keeps_input_features``,
``needs_initial_weights``); the run's ``ProbeRunner`` (runner.py) decides when it is due, plans one forward pass per
split for every probe due at that moment, and hands each its view. A *streaming* probe (``streams = True``) sees
every batch of the whole split through ``update`` instead of a gathered sample, with states reduced across processes
(``stream.py``), as torchmetrics does.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar, Literal

import torch
from pytorch_lightning import Callback
from torch import nn

from latent_probe.dataspec import SPLITS
from latent_probe.errors import ConfigError, check_range, require_choice
from latent_probe.probing.batch_size import default_batch_size
from latent_probe.probing.moments import check_moment_names
from latent_probe.probing.pooling import Pooling

# A probe placed among a Trainer's callbacks is asked for these: the error says how to attach it instead.
CALLBACK_NAMES = frozenset(name for name in dir(Callback) if not name.startswith("_"))

if TYPE_CHECKING:
    from latent_probe.artifacts.writer import MomentWriter
    from latent_probe.dataspec import DataSpec
    from latent_probe.dataspec.batches import Batch
    from latent_probe.probing.firing import Firing
    from latent_probe.probing.setup_pass import SetupPass
    from latent_probe.probing.stream import StreamState


class Probe:
    """Base of every probe: reads chosen layers at chosen moments and writes artifacts.

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
        token_pooling: how a ``(N, T, D)`` token output is stored: ``mean`` over tokens (padding left out), the
            ``first`` (CLS) token, or ``flatten``.
        max_features: ``(N, C, H, W)`` maps with more values per sample are average-pooled over space to fit
            (``null``: keep all). What was done to each layer is recorded in the moment's ``manifest.json``.
    """

    reads_activations: ClassVar[bool] = True  # False for probes that read weights only (no setup forward pass)
    needs_labels: ClassVar[bool] = False  # True: setup fails when the data has no labels
    skip_unreadable_defaults: ClassVar[bool] = True  # default layers called twice (or giving no tensor) are skipped, not errors
    keeps_inputs: ClassVar[bool] = False  # True: asks for the inputs with its activations (its pass keeps them)
    # True: asks for the inputs reduced to read-out features (input_features.py): its pass keeps only the reduction
    keeps_input_features: ClassVar[bool] = False
    needs_layers: ClassVar[bool] = True  # setup fails when no layer is left to read
    streams: ClassVar[bool] = False  # True: consumes its split batch by batch (start_stream / update), not a gathered sample
    # True: the runner keeps a CPU copy of the model's weights as built, before training and before a checkpoint's
    # weights, and firing.activations(weights="initial") reads the layers at them (initial_weights.py)
    needs_initial_weights: ClassVar[bool] = False
    # True: the probe's passes are its own, never shared: they run when its compute first reads them, after what compute
    # readied (a second model's weights, that a streaming probe's update runs: probes/model_similarity.py)
    own_pass: ClassVar[bool] = False

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
        # Set once at setup (setup.py) from the setup forward pass; read-only afterwards.
        self.layers: list[str] = []
        self.layer_parts: dict[str, str] = {}
        self.layer_shapes: dict[str, tuple[int, ...]] = {}
        self.left_out: dict[str, str] = {}  # layer -> why the setup pass left it out (said in the manifest)
        self.spec: DataSpec | None = None

    def __getattr__(self, name: str) -> Any:
        if name in CALLBACK_NAMES:
            raise ConfigError(f"{type(self).__name__} is not a Lightning callback: attach probes through one runner, "
                              "Trainer(callbacks=[ProbeRunner([...])]) (from latent_probe import ProbeRunner)")
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    # ----- what every probe implements ----------------------------------------------------------
    def compute(self, firing: Firing) -> Any:
        """Compute the result on every rank (collectives allowed, same order on all ranks)."""
        raise NotImplementedError

    def write(self, result: Any, out: MomentWriter) -> None:
        """Write ``result`` as artifacts; runs on global rank 0 only."""
        raise NotImplementedError

    # ----- what a probe may declare or override -------------------------------------------------
    def default_layers(self, model: nn.Module) -> list[str]:
        """Layers used when neither ``layers`` nor the model's ``probe_layers`` hint names any."""
        return []

    def splits(self) -> list[str]:
        """The splits this probe reads (checked at setup; each is read in the moment's shared pass)."""
        return [self.split] if self.reads_activations else []

    def check(self, spec: DataSpec, model: nn.Module, setup_pass: SetupPass | None) -> None:
        """Raise ``ConfigError`` at setup if this probe cannot work on this model and data (override).

        ``setup_pass`` is the setup forward pass (None for probes that read no activations): the calls, parts
        and output shapes of ``self.layers``.
        """

    def extra_state(self) -> dict[str, Any]:
        """What the probe must keep across a resume besides the moments it fired (override with ``load_extra_state``)."""
        return {}

    def load_extra_state(self, state: dict[str, Any]) -> None:
        """Restore what ``extra_state`` returned."""

    # ----- streaming probes (streams = True) ----------------------------------------------------
    def start_stream(self, widths: dict[str, int]) -> StreamState:
        """The empty states of one pass: ``widths`` is the number of stored features of each layer."""
        raise NotImplementedError

    def update(self, state: StreamState, outputs: dict[str, torch.Tensor], batch: Batch) -> None:
        """Fold one batch of this rank (its layers' ``(n, features)`` outputs, its inputs and labels) into ``state``.

        ``outputs`` and ``batch`` are shared with the pass's other streamers: read them, never change them in place.
        """
        raise NotImplementedError

    # ----- helpers ------------------------------------------------------------------------------
    def batch_size_on(self, device: torch.device) -> int:
        """Samples per forward pass of the probe's own: ``batch_size``, else the default for ``device``."""
        return default_batch_size(self.batch_size, device, accelerator_batch=512)

    def gathered_samples(self) -> int | None:
        """How many samples of its split ``firing.activations()`` gathers (a seeded sample; None: all): ``max_samples``, and
        0 for a streaming probe, which may override it to receive a gathered sample from the same pass as its stream."""
        return 0 if self.streams else self.max_samples

    def samples_of(self, split: str) -> int:
        """How many samples of ``split`` the probe reads (``max_samples`` or the whole split)."""
        size = len(self.spec.dataset(split))  # type: ignore[union-attr, arg-type]
        return size if self.max_samples is None else min(size, self.max_samples)


def snake_case(name: str) -> str:
    """``EmbeddingDumper`` -> ``embedding_dumper``."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


__all__ = ["Probe", "snake_case"]
