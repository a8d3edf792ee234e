"""latent-probe: train a model from a config and attach probes that show what its layers learned."""

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

# Importing the packages registers the built-in components.
from latent_probe import data, models, probes  # noqa: E402,F401  isort: skip
from latent_probe.probing import ProbeRunner  # noqa: E402  the callback that runs probes in your own Trainer

__version__ = "0.1.0"


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
