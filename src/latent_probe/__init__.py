"""latent-probe: train a model from a config and attach probes that show what its layers learned.

Importing the package is light (no torch): ``ProbeRunner`` and the component packages (``models``, ``data``,
``probes``, ...) are imported on first use, and the registries know the built-in components by name before that.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from latent_probe.errors import ConfigError, LatentProbeError
from latent_probe.registry import (
    DATAMODULES,
    MODELS,
    PROBES,
    get_datamodule,
    get_model,
    get_probe,
    list_datamodules,
    list_models,
    list_probes,
    load_plugins,
    register_datamodule,
    register_model,
    register_probe,
)

if TYPE_CHECKING:
    from latent_probe.probing import ProbeRunner

__version__ = "0.1.0"

# The sub-packages imported on first use as attributes (``latent_probe.models``), as ``import latent_probe.models`` does.
LAZY_PACKAGES = ("analysis", "artifacts", "cli", "data", "dataspec", "models", "probes", "probing", "viz")


def __getattr__(name: str) -> Any:
    """``ProbeRunner`` (the callback that runs probes in your own Trainer) and the sub-packages, imported on first use."""
    if name == "ProbeRunner":
        from latent_probe.probing import ProbeRunner

        return ProbeRunner
    if name in LAZY_PACKAGES:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), "ProbeRunner", *LAZY_PACKAGES})


def probe(*args, **kwargs):
    """Run probes on a model from Python; see ``latent_probe.cli.notebook.probe`` (imported on first use)."""
    from latent_probe.cli.notebook import probe as run_probes

    return run_probes(*args, **kwargs)


__all__ = [
    "ConfigError",
    "DATAMODULES",
    "LatentProbeError",
    "MODELS",
    "PROBES",
    "ProbeRunner",
    "__version__",
    "get_datamodule",
    "get_model",
    "get_probe",
    "list_datamodules",
    "list_models",
    "list_probes",
    "load_plugins",
    "probe",
    "register_datamodule",
    "register_model",
    "register_probe",
]
