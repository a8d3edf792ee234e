"""Unknown keys of Trainer and of the built-in components, refused before Lightning is imported.

jsonargparse would find them too, after importing Lightning and torch (seconds), with a message that names no valid
key. Here the config files and options are read as written, against ``known_options.KNOWN_OPTIONS``: a key is
refused only when its class is known for sure (``trainer``, or a ``model``/``data``/probe whose class is a built-in);
anything else (a user's own class, a value given as a file) is left to jsonargparse.
"""

from __future__ import annotations

import json
from typing import Any

from latent_probe.cli.known_options import KNOWN_OPTIONS, TRAINER
from latent_probe.cli.names import load_config_file, split_option
from latent_probe.errors import UnknownNameError
from latent_probe.registry import BUILTINS

SECTIONS = ("model", "data")
SUBCOMMAND_SECTIONS = ("fit", "validate", "test", "predict", "probe")
WRAPPER_KEYS = frozenset({"class_path", "init_args", "dict_kwargs", "help", "__path__"})
# Import path (as names.py rewrites them) -> built-in name.
_BUILTIN_PATHS = {f"{module}.{name}": name for kind in BUILTINS.values() for name, (module, _) in kind.items()}


def builtin_name(value: Any) -> str | None:
    """The built-in class a ``class_path`` (name or import path) names, else None."""
    if not isinstance(value, str):
        return None
    name = _BUILTIN_PATHS.get(value, value)
    return name if name in KNOWN_OPTIONS and name != TRAINER else None


def check_key(cls: str | None, key: str, section: str, source: str = "the command line") -> None:
    """Raise ``UnknownNameError`` when the known class ``cls`` does not accept the first-level ``key`` of ``section``."""
    key = key.split(".")[0].rstrip("+")  # `callbacks+=...` appends to a list
    if cls is None or key in WRAPPER_KEYS or key in KNOWN_OPTIONS[cls]:
        return
    raise UnknownNameError(f"{section} option", key, sorted(KNOWN_OPTIONS[cls]),
                           hint=f"{cls} ({source}) takes only these; `latent-probe fit --help` describes them")


def check_option_keys(argv: list[str]) -> None:
    """Refuse, in order, the first key of ``argv``'s config files and options that a known class does not accept."""
    keys = OptionKeys()
    for i, arg in enumerate(argv):
        if not arg.startswith("-"):
            continue
        key, value, _ = split_option(argv, i)
        if key in ("--config", "-c") and value is not None:
            keys.config(load_config_file(value), f"config {value!r}")
        elif key.startswith("--"):
            keys.option(key, value)


class OptionKeys:
    """Follows the class of ``model`` and ``data`` through the config files and options, checking every key."""

    def __init__(self) -> None:
        self.current: dict[str, str | None] = dict.fromkeys(SECTIONS)

    def config(self, config: Any, label: str) -> None:
        """Check a config file's ``trainer``, ``model``, ``data`` and ``probes`` (also under a subcommand's key)."""
        if not isinstance(config, dict):
            return
        for part in (config, *(config[key] for key in SUBCOMMAND_SECTIONS if isinstance(config.get(key), dict))):
            if isinstance(part.get("trainer"), dict):
                for key in part["trainer"]:
                    check_key(TRAINER, str(key), "trainer", label)
            for section in SECTIONS:
                self.component(section, part.get(section), label)
            self.probes(part.get("probes"), label)

    def component(self, section: str, spec: Any, source: str) -> None:
        """A ``model``/``data`` value: a class name, or a mapping with ``class_path`` and ``init_args``."""
        if isinstance(spec, str):
            self.current[section] = builtin_name(spec)
        elif isinstance(spec, dict) and "class_path" in spec:
            self.current[section] = builtin_name(spec["class_path"])
            init_args = spec.get("init_args")
            for key in init_args if isinstance(init_args, dict) else {}:
                check_key(self.current[section], str(key), section, source)
        elif spec is not None:
            self.current[section] = None  # a file or a form not read here: jsonargparse checks what follows

    def probes(self, specs: Any, source: str) -> None:
        """Each probe of a ``probes`` list whose class is a built-in."""
        for index, spec in enumerate(specs if isinstance(specs, list) else []):
            if isinstance(spec, dict) and isinstance(spec.get("init_args"), dict):
                for key in spec["init_args"]:
                    check_key(builtin_name(spec.get("class_path")), str(key), f"probes.{index}", source)

    def option(self, key: str, value: str | None) -> None:
        """A command-line ``--section[.key]`` option."""
        section, _, rest = key[2:].partition(".")
        if section == "trainer" and rest:
            check_key(TRAINER, rest, "trainer")
        elif section in SECTIONS and rest and rest != "class_path":
            check_key(self.current[section], rest.removeprefix("init_args."), section)
        elif section in SECTIONS:
            self.component(section, _class_value(value), "the command line")
        elif section == "probes" and not rest and value is not None:
            self.probes(_json_list(value), "the command line")


def _class_value(value: str | None) -> Any:
    """A ``--model``/``--data`` value as names.py left it: a class name or path, or a JSON mapping."""
    if value is None or not value.lstrip().startswith("{"):
        return value if value is None or not value.endswith((".yaml", ".yml")) else object()
    try:
        return json.loads(value)
    except ValueError:
        return object()


def _json_list(value: str) -> Any:
    try:
        return json.loads(value)
    except ValueError:
        return None
