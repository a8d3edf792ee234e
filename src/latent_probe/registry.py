"""Registries of models, datamodules and probes, and loading of third-party plugins.

Example:
    >>> from latent_probe import registry
    >>> @registry.register_model()
    ... class MyNet(LightningModule): ...
    >>> registry.get_model("MyNet", width=4)          # doctest: +SKIP
    >>> registry.list_models(include="*MLP*")          # doctest: +SKIP
"""

from __future__ import annotations

import fnmatch
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
    """A name -> class table for one kind of component (models, datamodules or probes)."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._entries: dict[str, type[T]] = {}

    def register(self, name: str | None = None) -> Callable[[type[T]], type[T]]:
        """Class decorator adding the class under ``name`` (default: the class name); duplicates raise."""

        def wrapper(cls: type[T]) -> type[T]:
            key = name or cls.__name__
            if key in self._entries and self._entries[key] is not cls:
                raise ValueError(f"a {self.kind} named {key!r} is already registered ({self._entries[key]!r})")
            self._entries[key] = cls
            return cls

        return wrapper

    def resolve(self, name: str) -> type[T]:
        """The class registered as ``name``; unknown names raise with the valid choices, close matches first."""
        if name in self._entries:
            return self._entries[name]
        raise UnknownNameError(self.kind, name, self.list(), hint=f"run `latent-probe list {self.kind}s`")

    def get(self, name: str, **kwargs: Any) -> T:
        """Instantiate the class registered as ``name`` with ``kwargs``."""
        return self.resolve(name)(**kwargs)

    def list(self, include: str | Iterable[str] | None = None, exclude: str | Iterable[str] | None = None) -> list[str]:
        """Registered names matching the fnmatch filters, in natural sort order."""
        return filter_names(self._entries, include, exclude)

    def name_of(self, cls: type) -> str | None:
        """The name under which ``cls`` is registered, if any."""
        return next((k for k, v in self._entries.items() if v is cls), None)

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __len__(self) -> int:
        return len(self._entries)

    def unregister(self, name: str) -> None:
        """Remove ``name`` (for tests and interactive sessions)."""
        self._entries.pop(name, None)


MODELS: Registry = Registry("model")
DATAMODULES: Registry = Registry("datamodule")
PROBES: Registry = Registry("probe")

register_model, get_model, list_models = MODELS.register, MODELS.get, MODELS.list
register_datamodule, get_datamodule, list_datamodules = DATAMODULES.register, DATAMODULES.get, DATAMODULES.list
register_probe, get_probe, list_probes = PROBES.register, PROBES.get, PROBES.list

REGISTRIES: dict[str, Registry] = {"models": MODELS, "datamodules": DATAMODULES, "probes": PROBES}


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
