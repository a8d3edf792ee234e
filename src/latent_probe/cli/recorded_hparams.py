"""A checkpoint's recorded hyperparameters are data to compare with the config, never a config to build from.

Lightning's CLI merges a checkpoint's ``hyper_parameters`` into the parsed config (``LightningCLI._parse_ckpt_path``),
and jsonargparse then imports and calls whatever ``_class_path`` or nested ``class_path`` they name: a checkpoint
that ``torch.load(weights_only=True)`` accepts (only strings and dicts) could run code. Here the config alone decides
what is built; where the checkpoint says it was trained otherwise, one warning line says so.
"""

from __future__ import annotations

import warnings
from typing import Any

from jsonargparse import Namespace

MAX_SHOWN = 4  # differences named in the warning; the count says how many more
MAX_VALUE_CHARS = 60


def plain(value: Any) -> Any:
    """``value`` as plain data (Namespaces as dicts, tuples as lists) for comparison."""
    if isinstance(value, Namespace):
        value = value.as_dict()
    if isinstance(value, dict):
        return {str(key): plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(item) for item in value]
    return value


def configured_hparams(model_config: Any) -> dict[str, Any]:
    """The config's model as Lightning records it in a checkpoint: ``_class_path`` beside the init arguments."""
    config = plain(model_config)
    if not isinstance(config, dict):
        return {}
    if "class_path" not in config:
        return config
    return {"_class_path": config["class_path"], **(config.get("init_args") or {}), **(config.get("dict_kwargs") or {})}


def differences(recorded: dict[str, Any], configured: dict[str, Any]) -> list[str]:
    """``key: recorded (config: configured)`` for every recorded hyperparameter the config sets otherwise."""
    found = []
    for key in sorted(recorded, key=str):
        if str(key) == "_instantiator" or key not in configured:
            continue
        if plain(recorded[key]) != configured[key]:
            found.append(f"{repr(str(key))[1:-1]}: {shown(recorded[key])} (config: {shown(configured[key])})")
    return found


def shown(value: Any) -> str:
    """A short printable form of a value from a file (control characters escaped by ``repr``)."""
    text = value if isinstance(value, (int, float, bool)) or value is None else repr(plain(value))
    text = str(text)
    return text if len(text) <= MAX_VALUE_CHARS else text[:MAX_VALUE_CHARS - 3] + "..."


def warn_if_trained_otherwise(ckpt_path: str, checkpoint: dict[str, Any], model_config: Any) -> list[str]:
    """Warn in one line when the checkpoint's recorded hyperparameters differ from the config's; returns them."""
    recorded = checkpoint.get("hyper_parameters")
    if not isinstance(recorded, dict) or not recorded:
        return []
    found = differences(recorded, configured_hparams(model_config))
    if found:
        more = f" and {len(found) - MAX_SHOWN} more" if len(found) > MAX_SHOWN else ""
        warnings.warn(f"checkpoint {ckpt_path!r} records other model settings than the config: {'; '.join(found[:MAX_SHOWN])}"
                      f"{more}. The config decides what is built (nothing in a checkpoint is imported or called)",
                      stacklevel=2)
    return found
