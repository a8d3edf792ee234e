"""Reading YAML config files with limits: size, nesting depth and alias expansion bounded, UTF-8 and a mapping required.

A 400-byte YAML "billion laughs" (aliases of aliases) is cheap for the parser but explodes in everything that walks
the loaded document; it is measured on the composed node graph, before any object is built.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from latent_probe.errors import ConfigError

MAX_BYTES = 1_000_000  # a config is a page of YAML, not data
MAX_DEPTH = 50
MAX_NODES = 100_000  # after alias expansion


def read_config_text(path: str) -> str:
    """The text of a config file: it must exist, be a readable file under ``MAX_BYTES``, and be UTF-8."""
    file = Path(path)
    if not file.is_file():
        raise ConfigError(f"config file not found: {path!r}")
    try:
        size = file.stat().st_size
        if size > MAX_BYTES:
            raise ConfigError(f"config file {path!r} is {size:,} bytes; a config must be under {MAX_BYTES:,}")
        return file.read_bytes().decode("utf-8")
    except UnicodeDecodeError as error:
        raise ConfigError(f"config file {path!r} is not UTF-8 text (byte {error.start}); save it as UTF-8") from None
    except PermissionError:
        raise ConfigError(f"config file {path!r} cannot be read: permission denied") from None
    except OSError as error:
        raise ConfigError(f"config file {path!r} cannot be read: {error.strerror or error}") from None


def limited_yaml(text: str, source: str) -> Any:
    """Safe YAML whose size, depth and alias expansion are bounded (``ConfigError``); bad syntax raises ``yaml.YAMLError``."""
    if len(text.encode("utf-8", "replace")) > MAX_BYTES:
        raise ConfigError(f"config {source!r} is over {MAX_BYTES:,} bytes")
    node = yaml.compose(text, Loader=yaml.SafeLoader)
    if node is not None:
        check_size(node, source)
    return yaml.safe_load(text)


def parse_config(text: str, source: str) -> Any:
    """A config document: limited YAML (see ``limited_yaml``) holding a mapping; every problem is one ``ConfigError``."""
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(error, "problem", None) or str(error).splitlines()[0]
        raise ConfigError(f"config file {source!r} is not valid YAML{where}: {problem}") from None
    if node is None:
        raise ConfigError(f"config {source!r} is empty; it must hold a mapping such as `model: ...`")
    if not isinstance(node, yaml.MappingNode):
        kind = "a list" if isinstance(node, yaml.SequenceNode) else "a single value"
        raise ConfigError(f"config {source!r} holds {kind}; it must hold a mapping such as `model: ...`")
    return limited_yaml(text, source)


def check_size(root: yaml.Node, source: str) -> None:
    """Raise when the document nests deeper than ``MAX_DEPTH`` or expands (aliases included) past ``MAX_NODES`` nodes."""
    expanded: dict[int, int] = {}

    def size(node: yaml.Node, depth: int) -> int:
        if depth > MAX_DEPTH:
            raise ConfigError(f"config {source!r} nests deeper than {MAX_DEPTH} levels")
        if id(node) in expanded:  # an alias: counted again in full, as everything walking the document would
            return expanded[id(node)]
        children = node.value if isinstance(node, yaml.SequenceNode) else \
            [part for pair in node.value for part in pair] if isinstance(node, yaml.MappingNode) else []
        total = 1
        for child in children:
            total += size(child, depth + 1)
            if total > MAX_NODES:
                raise ConfigError(f"config {source!r} expands to more than {MAX_NODES:,} values (YAML aliases of aliases?)")
        expanded[id(node)] = total
        return total

    size(root, 0)
