"""Registries of models, datamodules and probes, and loading of third-party plugins.

The built-in components are known by name before their modules are imported (``BUILTINS``: module and one line of
doc each), so ``latent-probe list`` and name checks import no torch; ``resolve`` imports a built-in's module on first use.

Example:
    >>> from latent_probe import registry
    >>> @registry.register_model()
    ... class MyNet(LightningModule): ...
    >>> registry.get_model("MyNet", width=4)          # doctest: +SKIP
    >>> registry.list_models(include="*MLP*")          # doctest: +SKIP
"""

from __future__ import annotations

import fnmatch
import importlib
import importlib.metadata
import inspect
import os
import re
import warnings
from collections.abc import Callable, Iterable
from typing import Any, Generic, TypeVar

from latent_probe.errors import ConfigError, UnknownNameError, require_choice

T = TypeVar("T")

PLUGIN_GROUP = "latent_probe.plugins"
DISABLE_PLUGINS_ENV = "LATENT_PROBE_DISABLE_PLUGINS"


def natural_key(text: str) -> list[Any]:
    """Sort key that orders ``layer2`` before ``layer10``."""
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", text)]


def _as_patterns(patterns: str | Iterable[str] | None) -> list[str]:
    if patterns is None:
        return []
    return [patterns] if isinstance(patterns, str) else list(patterns)


def filter_names(names: Iterable[str], include=None, exclude=None) -> list[str]:
    """Names matching any ``include`` fnmatch pattern and no ``exclude`` pattern, naturally sorted."""
    names = list(names)
    includes, excludes = _as_patterns(include), _as_patterns(exclude)
    if includes:
        names = [n for n in names if any(fnmatch.fnmatchcase(n, p) for p in includes)]
    names = [n for n in names if not any(fnmatch.fnmatchcase(n, p) for p in excludes)]
    return sorted(set(names), key=natural_key)


class Registry(Generic[T]):
    """A name -> class table for one kind of component (models, datamodules or probes).

    ``builtins`` names classes not imported yet: ``{name: (module, first doc line)}``; each registers itself (under
    that name) when its module is imported, which ``resolve`` does on first use.
    """

    def __init__(self, kind: str, builtins: dict[str, tuple[str, str]] | None = None) -> None:
        self.kind = kind
        self._entries: dict[str, type[T]] = {}
        self._builtins: dict[str, tuple[str, str]] = dict(builtins or {})

    def register(self, name: str | None = None) -> Callable[[type[T]], type[T]]:
        """Class decorator adding the class under ``name`` (default: the class name); duplicates raise."""

        def wrapper(cls: type[T]) -> type[T]:
            key = name or cls.__name__
            if key in self._entries and self._entries[key] is not cls:
                raise ValueError(f"a {self.kind} named {key!r} is already registered ({self._entries[key]!r})")
            if key not in self._entries and key in self._builtins and not self._is_builtin(key, cls):
                raise ValueError(f"a {self.kind} named {key!r} is already registered (<class '{self._builtins[key][0]}.{key}'>)")
            self._entries[key] = cls
            return cls

        return wrapper

    def _is_builtin(self, name: str, cls: type) -> bool:
        return (cls.__module__, cls.__qualname__) == (self._builtins[name][0], name)

    def resolve(self, name: str) -> type[T]:
        """The class registered as ``name``; unknown names raise with the valid choices, close matches first."""
        if name in self._entries:
            return self._entries[name]
        if name in self._builtins:
            module = importlib.import_module(self._builtins[name][0])  # registers the class
            return self._entries.setdefault(name, getattr(module, name))
        raise UnknownNameError(self.kind, name, self.list(), hint=f"run `latent-probe list {self.kind}s`")

    def import_path(self, name: str) -> str:
        """``module.QualName`` of the class registered as ``name``; a built-in's from ``BUILTINS``, nothing imported."""
        if name not in self._entries and name in self._builtins:
            return f"{self._builtins[name][0]}.{name}"
        cls = self.resolve(name)
        return f"{cls.__module__}.{cls.__qualname__}"

    def get(self, name: str, **kwargs: Any) -> T:
        """Instantiate the class registered as ``name`` with ``kwargs``."""
        return self.resolve(name)(**kwargs)

    def list(self, include: str | Iterable[str] | None = None, exclude: str | Iterable[str] | None = None) -> list[str]:
        """Registered names matching the fnmatch filters, in natural sort order."""
        return filter_names([*self._entries, *self._builtins], include, exclude)

    def description(self, name: str) -> str:
        """The first doc line of the class registered as ``name`` (a built-in's from ``BUILTINS``, nothing imported)."""
        if name not in self._entries and name in self._builtins:
            return self._builtins[name][1]
        return first_doc_line(self.resolve(name))

    def name_of(self, cls: type) -> str | None:
        """The name under which ``cls`` is registered, if any."""
        return next((k for k, v in self._entries.items() if v is cls), None)

    def __contains__(self, name: object) -> bool:
        return name in self._entries or name in self._builtins

    def __len__(self) -> int:
        return len({*self._entries, *self._builtins})

    def unregister(self, name: str) -> None:
        """Remove ``name`` (for tests and interactive sessions)."""
        self._entries.pop(name, None)
        self._builtins.pop(name, None)


# The built-in components: name -> (module, the first line of the class's doc). tests/test_registry.py imports every
# one and checks both against the class, so `latent-probe list` can show them without importing torch.
BUILTINS: dict[str, dict[str, tuple[str, str]]] = {
    "models": {
        "BottleneckClassifier": ("latent_probe.models.bottleneck", "The Keras MNIST CNN with a 2-unit layer before the 10-way "
                                 "output (digits on rays in 2-D), trained with cross-entropy."),
        "Classifier": ("latent_probe.models.classifier", "Any ``nn.Module`` as a classifier trained with cross-entropy on its "
                       "logits (``train/loss``, ``val/acc``, ``test/acc``)."),
        "DeepMLP": ("latent_probe.models.deep_mlp", "A stack of equal-width tanh layers with a 1-unit sigmoid output (the "
                    "space-bending experiment), trained with BCE."),
        "DenoisingAutoencoder": ("latent_probe.models.dae", "A denoising autoencoder with tied weights and sigmoid units, "
                                 "trained on masking noise (the Deep Learning Tutorial's dA)."),
        "MLPClassifier": ("latent_probe.models.mlp", "A fully connected classifier with separate affine and activation modules "
                          "(the influence-map experiment), trained with cross-entropy."),
        "StackedDenoisingAutoencoder": ("latent_probe.models.sda", "Stacked denoising autoencoders pretrained layer by layer, "
                                        "then fine-tuned as a classifier (Deep Learning Tutorial)."),
        "VAE": ("latent_probe.models.vae", "A variational autoencoder with a ``latent_dim``-D Gaussian latent and a Bernoulli "
                "decoder (the latent-space centroid experiment)."),
    },
    "datamodules": {
        "DatasetDataModule": ("latent_probe.data.datasets", "Train, validation and test splits from any datasets given in the "
                              "config (``FakeData``, ``ImageFolder``, ``CIFAR10``,"),
        "DigitsDataModule": ("latent_probe.data.digits", "scikit-learn's 1,797 real 8x8 handwritten digits (``load_digits``), "
                             "split into train/val/test by a seed."),
        "MNISTDataModule": ("latent_probe.data.mnist", "MNIST, Fashion-MNIST or KMNIST from torchvision: 28x28 grey images, "
                            "10 classes, a seeded validation split."),
        "Toy2DDataModule": ("latent_probe.data.toy2d", "Two-class 2-D points (moons or circles), balanced, generated by "
                            "scikit-learn; no download."),
    },
    "probes": {
        "EmbeddingDumper": ("latent_probe.probes.embedding", "Dump chosen layers' outputs: embeddings.npz, TensorBoard projector "
                            "with sprites, 2-D pictures, latent metrics."),
        "FilterTiler": ("latent_probe.probes.filters", "Tile the incoming weights of ``Linear``/``Conv2d`` units as images: PNG, "
                        "TensorBoard image, ``filters.npz``."),
        "InfluenceMapper": ("latent_probe.probes.influence.mapper", "Map how each pixel moves each node of the chosen layers: "
                            "one image per node, for several inputs."),
        "LayerSimilarity": ("latent_probe.probes.similarity", "Linear CKA between every pair of chosen layers over a whole split: "
                            "how alike their representations are."),
        "LayerTransformRecorder": ("latent_probe.probes.layer_transform", "Record a fixed set of points after every step of the "
                                   "model (affine map, activation, ...) and draw them moving."),
        "LinearProbe": ("latent_probe.probes.linear", "Fit a linear classifier on each layer's activations (train split) and "
                        "report its accuracy (val split)."),
        "ModelSimilarity": ("latent_probe.probes.model_similarity", "Linear CKA between each chosen layer of the model and each "
                            "layer of a reference model (same architecture, other weights)."),
        "RepresentationDrift": ("latent_probe.probes.representation_drift", "Linear CKA of each layer now with the same layer "
                                "at every earlier moment and at the initial weights: how training moves it."),
        "UnitStats": ("latent_probe.probes.unit_stats", "Per-unit mean, variance and maximum of each chosen layer over a whole "
                      "split, and the share of dead units."),
    },
}


MODELS: Registry = Registry("model", BUILTINS["models"])
DATAMODULES: Registry = Registry("datamodule", BUILTINS["datamodules"])
PROBES: Registry = Registry("probe", BUILTINS["probes"])

register_model, get_model, list_models = MODELS.register, MODELS.get, MODELS.list
register_datamodule, get_datamodule, list_datamodules = DATAMODULES.register, DATAMODULES.get, DATAMODULES.list
register_probe, get_probe, list_probes = PROBES.register, PROBES.get, PROBES.list

REGISTRIES: dict[str, Registry] = {"models": MODELS, "datamodules": DATAMODULES, "probes": PROBES}


def import_builtins() -> None:
    """Import every built-in component's module (jsonargparse finds a short class name, as in ``--model.help DeepMLP``,
    among the classes imported)."""
    for registry in REGISTRIES.values():
        for name in list(registry._builtins):
            registry.resolve(name)


def first_doc_line(obj: object) -> str:
    """The first line of ``obj``'s docstring, or an empty string."""
    doc = inspect.getdoc(obj) or ""
    return doc.strip().splitlines()[0] if doc.strip() else ""


_loaded_plugins: dict[str, str] = {}


def load_plugins(force: bool = False) -> dict[str, str]:
    """Import every ``latent_probe.plugins`` entry point once, so that its registrations exist.

    Set ``LATENT_PROBE_DISABLE_PLUGINS=1`` to skip autoloading. A loaded object that is a plain
    function (not a class or module) is called with no arguments, so a plugin may expose either a
    module that registers on import or a ``register()`` function. Returns ``{entry point: value}``.
    """
    if os.environ.get(DISABLE_PLUGINS_ENV, "").strip().lower() in {"1", "true", "yes", "on"}:
        return {}
    for entry_point in importlib.metadata.entry_points(group=PLUGIN_GROUP):
        if entry_point.name in _loaded_plugins and not force:
            continue
        try:
            loaded = entry_point.load()
            if inspect.isfunction(loaded):
                loaded()
        except (Exception, SystemExit) as error:  # a broken plugin (even one calling sys.exit) must not take the CLI down
            reason = f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
            warnings.warn(f"latent-probe plugin {entry_point.name!r} ({entry_point.value}) failed to load and was skipped: {reason}",
                          stacklevel=2)
            continue
        _loaded_plugins[entry_point.name] = entry_point.value
    return dict(_loaded_plugins)


__all__ = [
    "BUILTINS",
    "ConfigError",
    "DATAMODULES",
    "MODELS",
    "PROBES",
    "Registry",
    "filter_names",
    "first_doc_line",
    "get_datamodule",
    "get_model",
    "get_probe",
    "import_builtins",
    "list_datamodules",
    "list_models",
    "list_probes",
    "load_plugins",
    "natural_key",
    "register_datamodule",
    "register_model",
    "register_probe",
    "require_choice",
]
