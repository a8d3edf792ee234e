"""Reading YAML config files with limits: size, nesting depth, alias expansion and numbers checked, UTF-8 and a mapping required.

Everything is measured on YAML's event stream, before a node is composed: PyYAML's composer recurses once per level
(``[[[[...`` 100,000 deep ends in RecursionError) while its parser keeps an explicit stack, and a 400-byte
"billion laughs" (aliases of aliases) is cheap to parse but explodes in everything that walks the loaded document.
"""

from __future__ import annotations

from typing import Any

import yaml

from latent_probe.cli.numbers import check_plain_number, number_problem, shown
from latent_probe.errors import ConfigError
from latent_probe.models.regular_files import open_regular_file

MAX_BYTES = 1_000_000  # a config is a page of YAML, not data
MAX_DEPTH = 50
MAX_NODES = 100_000  # after alias expansion
MAX_NUMBER_CHARS = 100  # int64 takes 19 digits: a longer number is refused before YAML converts it (quadratic in length)
_NUMBER_TAGS = {"tag:yaml.org,2002:int": "construct_yaml_int", "tag:yaml.org,2002:float": "construct_yaml_float"}
_RESOLVER = yaml.resolver.Resolver()
_CONSTRUCTOR = yaml.constructor.SafeConstructor()


def read_config_text(path: str) -> str:
    """The text of a config file: it must be a regular file under ``MAX_BYTES``, and UTF-8."""
    with open_regular_file(path, "config file") as file:
        try:
            data = file.read(MAX_BYTES + 1)  # one byte past the cap shows the file is over it, without reading it all
        except OSError as error:
            raise ConfigError(f"config file {path!r} cannot be read: {error.strerror or error}") from None
    if len(data) > MAX_BYTES:
        raise ConfigError(f"config file {path!r} is over {MAX_BYTES:,} bytes; a config must be under {MAX_BYTES:,}")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ConfigError(f"config file {path!r} is not UTF-8 text (byte {error.start}); save it as UTF-8") from None


def limited_yaml(text: str, label: str) -> Any:
    """Safe YAML checked by ``check_events`` before it is built (``ConfigError`` naming ``label``, e.g. ``config 'x.yaml'``
    or ``--probes``); bad syntax raises ``yaml.YAMLError``."""
    if len(text.encode("utf-8", "replace")) > MAX_BYTES:
        raise ConfigError(f"{label} is over {MAX_BYTES:,} bytes")
    check_events(text, label)
    try:
        return yaml.safe_load(text)
    except ValueError as error:  # a scalar YAML resolves but cannot build, such as the date 2024-13-45
        raise ConfigError(f"{label} holds a value YAML cannot read: {str(error).splitlines()[0][:200]}") from None


def option_yaml(key: str, value: str) -> Any:
    """The YAML/JSON value of command-line option ``key``, checked as ``limited_yaml``; bad syntax is a ``ConfigError``."""
    try:
        return limited_yaml(value, key)
    except yaml.YAMLError:
        raise ConfigError(f"{key}: not a valid YAML/JSON value: {shown(value)!r}") from None


def parse_config(text: str, source: str) -> Any:
    """A config document: limited YAML (see ``limited_yaml``) holding a mapping; every problem is one ``ConfigError``."""
    try:
        config = limited_yaml(text, f"config {source!r}")
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(error, "problem", None) or str(error).splitlines()[0]
        raise ConfigError(f"config file {source!r} is not valid YAML{where}: {problem}") from None
    if config is None:
        raise ConfigError(f"config {source!r} is empty; it must hold a mapping such as `model: ...`")
    if not isinstance(config, dict):
        kind = "a list" if isinstance(config, list) else "a single value"
        raise ConfigError(f"config {source!r} holds {kind}; it must hold a mapping such as `model: ...`")
    return config


class _Open:
    """A mapping or sequence being read: its anchor, its expanded size so far, and where the next child goes."""

    __slots__ = ("anchor", "size", "mapping", "key", "index", "at_key")

    def __init__(self, anchor: str | None, mapping: bool) -> None:
        self.anchor, self.size, self.mapping = anchor, 1, mapping
        self.key, self.index, self.at_key = "?", 0, mapping

    def place(self) -> str | None:
        """The name of the child being read (a key, or an index), None while reading a mapping's key."""
        return None if self.at_key else self.key if self.mapping else str(self.index)


def check_events(text: str, label: str) -> None:
    """Raise ``ConfigError`` when the YAML nests deeper than ``MAX_DEPTH``, expands (aliases included) past ``MAX_NODES``
    values, refers to itself, or holds a number beyond int64 or not finite; measured on events, before composing."""
    stack: list[_Open] = []
    anchors: dict[str, int] = {}  # expanded size of each complete anchored node

    def where() -> str:
        path = ".".join(place for frame in stack if (place := frame.place()) is not None)
        return f"{label}: {path}" if path else label

    for event in yaml.parse(text, Loader=yaml.SafeLoader):
        if isinstance(event, yaml.CollectionStartEvent):
            stack.append(_Open(event.anchor, isinstance(event, yaml.MappingStartEvent)))
            if len(stack) > MAX_DEPTH:
                raise ConfigError(f"{label} nests deeper than {MAX_DEPTH} levels")
            continue
        if isinstance(event, yaml.CollectionEndEvent):
            frame = stack.pop()
            anchor, size = frame.anchor, frame.size
        elif isinstance(event, yaml.ScalarEvent):
            _check_scalar(event, where)
            anchor, size = event.anchor, 1
        elif isinstance(event, yaml.AliasEvent):
            if any(frame.anchor == event.anchor for frame in stack):
                raise ConfigError(f"{where()}: alias *{event.anchor} refers to a value that contains it (endless nesting)")
            anchor, size = None, anchors.get(event.anchor, 1)  # an undefined alias is the composer's error
        else:
            continue
        if anchor is not None:
            anchors[anchor] = size
        if stack:
            _add_child(stack[-1], size, event, label)


def _add_child(parent: _Open, size: int, event: yaml.Event, label: str) -> None:
    parent.size += size
    if parent.size > MAX_NODES:
        raise ConfigError(f"{label} expands to more than {MAX_NODES:,} values (YAML aliases of aliases?)")
    if parent.mapping and parent.at_key:
        parent.key = event.value if isinstance(event, yaml.ScalarEvent) else "?"
    parent.index += not parent.mapping
    parent.at_key = parent.mapping and not parent.at_key


def _check_scalar(event: yaml.ScalarEvent, where) -> None:
    """Refuse an int beyond int64 or a NaN/inf float, before YAML builds it."""
    tag = event.tag if event.tag not in (None, "!") else _RESOLVER.resolve(yaml.ScalarNode, event.value, event.implicit)
    if tag not in _NUMBER_TAGS:
        if event.style is None:  # plain `1e400` is a string to YAML 1.1 but a number to jsonargparse's type checks
            check_plain_number(event.value, where())
        return
    if len(event.value) > MAX_NUMBER_CHARS:
        raise ConfigError(f"{where()} must be within the 64-bit integer and float range, got {shown(event.value)}")
    try:
        value = getattr(_CONSTRUCTOR, _NUMBER_TAGS[tag])(yaml.ScalarNode(tag, event.value))
    except ValueError:
        return  # not a number after all (an explicit !!int on text): YAML's own error follows
    problem = number_problem(value, event.value)
    if problem:
        raise ConfigError(f"{where()} {problem}")
