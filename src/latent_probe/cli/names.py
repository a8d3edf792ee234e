"""Resolve the component names a user writes (``model: DeepMLP``) to import paths, or fail clearly."""

from __future__ import annotations

import importlib
import json
from collections.abc import Iterable
from typing import Any

import yaml

from latent_probe.cli.config_files import limited_yaml, option_yaml, parse_config, read_config_text
from latent_probe.cli.numbers import check_plain_number
from latent_probe.cli.probe_options import fold_probe_options
from latent_probe.errors import ConfigError, UnknownNameError
from latent_probe.models.regular_files import refuse_special
from latent_probe.registry import DATAMODULES, MODELS, PROBES, Registry

COMPONENT_KEYS: dict[str, Registry] = {"model": MODELS, "data": DATAMODULES, "probes": PROBES}
SUBCOMMANDS = ("fit", "validate", "test", "predict", "probe")  # LightningCLI's (lightning_cli.py)
STANDS_FOR = {"compare": "probe"}  # subcommands rewritten into another before LightningCLI parses (cli/compare_args.py)


def is_class_name(text: str) -> bool:
    """A registered name or a dotted import path: identifiers joined by single dots (not ``.x``, ``x.``, ``a..b``)."""
    return all(part.isidentifier() for part in text.split("."))


def _importable(path: str) -> bool:
    module_name, _, attr = path.rpartition(".")
    if not is_class_name(path):  # importlib raises TypeError/ValueError on relative or empty names instead of answering
        return False
    try:
        return hasattr(importlib.import_module(module_name), attr)
    except ImportError:
        return False


def resolve_name(registry: Registry, name: str) -> str:
    """The import path for a registered name or an importable dotted path; anything else raises."""
    if name in registry:
        return registry.import_path(name)  # a built-in's module is not imported here: jsonargparse imports it later
    if "." in name and _importable(name):
        return name
    hint = f"run `latent-probe list {registry.kind}s`, or give an importable class path"
    raise UnknownNameError(registry.kind, name, registry.list(), hint=hint)


def _resolve_spec(registry: Registry, spec: Any) -> Any:
    if isinstance(spec, str):
        return resolve_name(registry, spec)
    if isinstance(spec, dict) and isinstance(spec.get("class_path"), str):
        return {**spec, "class_path": resolve_name(registry, spec["class_path"])}
    return spec


def check_class_paths(config: Any, label: str) -> None:
    """Raise ``ConfigError`` at the first ``class_path`` anywhere in ``config`` (callbacks, loggers too) that is not a class name."""
    stack: list[tuple[str, Any]] = [("", config)]
    while stack:  # a loop, not recursion: aliases may share values, and the size is already bounded by limited_yaml
        path, value = stack.pop()
        items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
        name = value.get("class_path") if isinstance(value, dict) else None
        if isinstance(name, str) and not is_class_name(name):
            raise ConfigError(f"{label}: {path + '.' if path else ''}class_path {name!r} is not a class name; give a registered "
                              "name or an import path such as package.module.Class")
        stack.extend((f"{path}.{key}" if path else str(key), item) for key, item in items)


def resolve_config_names(config: Any) -> Any:
    """Rewrite the ``model``, ``data`` and ``probes`` entries of a config dict to import paths."""
    if not isinstance(config, dict):
        return config
    config = dict(config)
    for key in SUBCOMMANDS:
        if isinstance(config.get(key), dict):
            config[key] = resolve_config_names(config[key])
    for key, registry in COMPONENT_KEYS.items():
        value = config.get(key)
        if key == "probes" and isinstance(value, list):
            config[key] = [_resolve_spec(registry, item) for item in value]
        elif value is not None and key != "probes":
            config[key] = _resolve_spec(registry, value)
    return config


def load_config_file(path: str) -> Any:
    """Read a YAML config file with limits (size, depth, aliases, numbers, UTF-8, a mapping); every problem is one line."""
    config = parse_config(read_config_text(path), path)
    check_class_paths(config, f"config {path!r}")
    return config


def split_option(argv: list[str], i: int) -> tuple[str, str | None, int]:
    """Split ``--key=value`` or ``--key value`` at position ``i``; returns key, value, value index."""
    arg = argv[i]
    if "=" in arg:
        key, value = arg.split("=", 1)
        return key, value, i
    return arg, (argv[i + 1] if i + 1 < len(argv) else None), i + 1


def resolve_argv_names(argv: Iterable[str]) -> list[str]:
    """Check the config files and the ``--model``/``--data`` options of ``argv`` and resolve their names."""
    argv = fold_probe_options(list(argv), load_config_file)
    component_options = {f"--{k}": r for k, r in COMPONENT_KEYS.items() if k != "probes"}
    component_options.update({f"{option}.class_path": r for option, r in component_options.items()})
    for i, arg in enumerate(argv):
        if not arg.startswith("-"):
            continue
        key, value, at = split_option(argv, i)
        if value is None:
            continue
        if key in ("--config", "-c"):
            resolve_config_names(load_config_file(value))
        elif key == "--probes":
            resolved = json.dumps(resolve_config_names({"probes": option_yaml(key, value)})["probes"], ensure_ascii=False)
            argv[at] = f"{key}={resolved}" if at == i else resolved
        elif key in component_options:
            _resolve_component(argv, i, at, key, value, component_options[key])
        elif key.startswith("--"):
            check_option_value(key, value)
    return argv


def _resolve_component(argv: list[str], i: int, at: int, key: str, value: str, registry: Registry) -> None:
    """Check ``--model``/``--data`` (a name, an inline mapping or a YAML file) and write its names as import paths."""
    if value.endswith((".yaml", ".yml")):  # jsonargparse reads the file itself: check it here, before the parser does
        _resolve_spec(registry, load_config_file(value))
        return
    spec = option_yaml(key, value) if value.lstrip().startswith(("{", "[")) else value
    check_class_paths(spec, key)
    resolved = _resolve_spec(registry, spec)
    text = resolved if isinstance(resolved, str) else json.dumps(resolved, ensure_ascii=False)
    argv[at] = f"{key}={text}" if at == i else text


def check_option_value(key: str, value: str) -> None:
    """Check an option's value as jsonargparse will read it: a plain number, else YAML (depth, size, numbers, class paths);
    never a FIFO or device, which jsonargparse would open as a config file (``--trainer fifo.yaml`` waits forever)."""
    refuse_special(value, key)
    check_plain_number(value, key)
    try:
        check_class_paths(limited_yaml(value, key), key)
    except yaml.YAMLError:
        pass  # not YAML: jsonargparse keeps it a string


def yaml_loader_resolving_names(text: str) -> Any:
    """jsonargparse loader (config files and option values): limited safe YAML, registered names rewritten to import paths."""
    return resolve_config_names(limited_yaml(text, "a value given"))
