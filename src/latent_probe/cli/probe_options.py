"""``--probes.N.key value``: change one option of probe N of the configured list from the command line.

jsonargparse can replace the whole ``probes:`` list (``--probes '[...]'``) but cannot reach into one of its items.
These options are folded into one ``--probes`` value, placed last: the list from the last ``--probes`` given, else
from the last config file that has one, with each change applied (``init_args.`` may be left out of the key).
"""

from __future__ import annotations

import json
import re
from typing import Any

from latent_probe.cli.config_files import option_yaml
from latent_probe.errors import ConfigError

_NAME = r"[A-Za-z_][A-Za-z0-9_]*"
_OPTION = re.compile(rf"--probes\.(0|[1-9][0-9]*)\.({_NAME}(?:\.{_NAME})*)", re.ASCII)
FORM = "--probes.N.key VALUE (N: a configured probe's index, from 0; key: an option such as layers or init_args.layers)"
PASS_THROUGH = ("--probes.help",)  # jsonargparse's own: help on a probe class's options


def fold_probe_options(argv: list[str], load_config) -> list[str]:
    """``argv`` with every ``--probes.N.key value`` folded into one trailing ``--probes=<json>``."""
    changes, rest, i = [], [], 0
    while i < len(argv):
        arg = argv[i]
        key, value, consumed = _split(argv, i)
        if key is None or key in PASS_THROUGH:
            rest.append(arg)
            i += 1
            continue
        match = _OPTION.fullmatch(key)
        if match is None:
            raise ConfigError(f"{key}: not a probe option; the form is {FORM}")
        if value is None:
            raise ConfigError(f"{key} needs a value")
        changes.append((key, match.group(1), match.group(2), option_yaml(key, value)))
        i += consumed
    if not changes:
        return argv
    probes = [_as_entry(item) for item in _current_list(rest, load_config)]
    for key, index, path, value in changes:
        if len(index) > len(str(len(probes))) or int(index) >= len(probes):  # compared as text first: 10**5000 digits
            raise ConfigError(f"{key}: the config has {len(probes)} probes (indices 0..{len(probes) - 1})")
        _set(probes[int(index)], key, path, value)
    return [*rest, f"--probes={json.dumps(probes, ensure_ascii=False)}"]


def _split(argv: list[str], i: int) -> tuple[str | None, str | None, int]:
    arg = argv[i]
    if not arg.startswith("--probes."):
        return None, None, 1
    if "=" in arg:
        key, value = arg.split("=", 1)
        return key, value, 1
    return arg, (argv[i + 1] if i + 1 < len(argv) else None), 2


def _current_list(argv: list[str], load_config) -> list[Any]:
    """The probes list the command line would configure: the last ``--probes`` given, else the last config file's."""
    found: list[Any] = []
    for i, arg in enumerate(argv):
        key, _, value = arg.partition("=") if arg.startswith("--") and "=" in arg else (arg, "", argv[i + 1] if i + 1 < len(argv) else None)
        if key in ("--config", "-c") and value is not None:
            config = load_config(value)
            if isinstance(config, dict) and isinstance(config.get("probes"), list):
                found = config["probes"]
        elif key == "--probes" and value is not None:
            found = option_yaml(key, value) or []
    if not found:
        raise ConfigError("--probes.N.key changes a configured probe, but no probes are configured. HINT: add a probes: list")
    return found


def _as_entry(item: Any) -> dict[str, Any]:
    if isinstance(item, str):
        return {"class_path": item, "init_args": {}}
    if isinstance(item, dict) and "class_path" in item:
        return {"class_path": item["class_path"], "init_args": dict(item.get("init_args") or {})}
    raise ConfigError(f"probes: each entry is a name or a class_path/init_args mapping, got {item!r}")


def _set(entry: dict[str, Any], key: str, path: str, value: Any) -> None:
    """Set ``path`` (``class_path``, or an option under ``init_args``) of one probe entry to ``value``."""
    parts = path.split(".")
    if parts[0] == "class_path":
        if len(parts) > 1:
            raise ConfigError(f"{key}: class_path is a name and has no options; the form is {FORM}")
        entry["class_path"] = value
        return
    if parts[0] == "init_args":
        parts = parts[1:]
    if not parts:
        raise ConfigError(f"{key}: name one option under init_args; the form is {FORM}")
    target = entry["init_args"]
    for depth, part in enumerate(parts[:-1]):
        target = target.setdefault(part, {})
        if not isinstance(target, dict):
            through = ".".join(parts[: depth + 1])
            raise ConfigError(f"{key}: option {through} holds a value of type {type(target).__name__}, not a mapping of options; "
                              f"set it whole with --probes.N.{through}")
    target[parts[-1]] = value
