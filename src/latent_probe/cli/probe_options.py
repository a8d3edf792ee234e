"""``--probes.N.key value``: change one option of probe N of the configured list from the command line.

jsonargparse can replace the whole ``probes:`` list (``--probes '[...]'``) but cannot reach into one of its items.
These options are folded into one ``--probes`` value, placed last: the list from the last ``--probes`` given, else
from the last config file that has one, with each change applied (``init_args.`` may be left out of the key).
"""

from __future__ import annotations

import json
import re
from typing import Any

import yaml

from latent_probe.cli.config_files import limited_yaml
from latent_probe.errors import ConfigError

_OPTION = re.compile(r"^--probes\.(\d+)\.(.+)$")


def fold_probe_options(argv: list[str], load_config) -> list[str]:
    """``argv`` with every ``--probes.N.key value`` folded into one trailing ``--probes=<json>``."""
    changes, rest, i = [], [], 0
    while i < len(argv):
        arg = argv[i]
        key, value, consumed = _split(argv, i)
        match = _OPTION.match(key) if key else None
        if match is None:
            rest.append(arg)
            i += 1
            continue
        if value is None:
            raise ConfigError(f"{key} needs a value")
        changes.append((int(match.group(1)), match.group(2), _yaml(key, value)))
        i += consumed
    if not changes:
        return argv
    probes = [_as_entry(item) for item in _current_list(rest, load_config)]
    for index, path, value in changes:
        if index >= len(probes):
            raise ConfigError(f"--probes.{index}.{path}: the config has {len(probes)} probes (indices 0..{len(probes) - 1})")
        _set(probes[index], path, value)
    return [*rest, f"--probes={json.dumps(probes, ensure_ascii=False)}"]


def _split(argv: list[str], i: int) -> tuple[str | None, str | None, int]:
    arg = argv[i]
    if not arg.startswith("--probes."):
        return None, None, 1
    if "=" in arg:
        key, value = arg.split("=", 1)
        return key, value, 1
    return arg, (argv[i + 1] if i + 1 < len(argv) else None), 2


def _yaml(key: str, value: str) -> Any:
    try:
        return limited_yaml(value, key)
    except yaml.YAMLError:
        raise ConfigError(f"{key}: not a valid YAML/JSON value: {value!r}") from None


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
            found = _yaml(key, value) or []
    if not found:
        raise ConfigError("--probes.N.key changes a configured probe, but no probes are configured. HINT: add a probes: list")
    return found


def _as_entry(item: Any) -> dict[str, Any]:
    if isinstance(item, str):
        return {"class_path": item, "init_args": {}}
    if isinstance(item, dict) and "class_path" in item:
        return {"class_path": item["class_path"], "init_args": dict(item.get("init_args") or {})}
    raise ConfigError(f"probes: each entry is a name or a class_path/init_args mapping, got {item!r}")


def _set(entry: dict[str, Any], path: str, value: Any) -> None:
    parts = path.split(".")
    if parts[0] == "class_path":
        entry["class_path"] = value
        return
    if parts[0] == "init_args":
        parts = parts[1:]
    target = entry["init_args"]
    for part in parts[:-1]:
        target = target.setdefault(part, {})
    target[parts[-1]] = value
