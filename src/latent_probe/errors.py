"""User-facing errors (one line, exit status 2, no traceback) and the value checks that raise them."""

from __future__ import annotations

import difflib
import math
import unicodedata
from collections.abc import Iterable

MEMORY_LIMIT = 2 * 2**30  # one picture or array a single option may imply: more, from a config, is almost surely a typo


class LatentProbeError(Exception):
    """An error caused by the user's input; the CLI prints its message alone and exits with status 2."""

    exit_code = 2


class ConfigError(LatentProbeError, ValueError):
    """A configuration value is invalid (wrong name, type, range or missing file)."""


class UnknownNameError(ConfigError, KeyError):
    """A name that is not among the valid choices."""

    def __init__(self, kind: str, name: str, choices: Iterable[str], hint: str = "") -> None:
        self.kind, self.name, self.choices = kind, name, list(choices)
        super().__init__(describe_choice_error(kind, name, self.choices, hint))

    def __str__(self) -> str:  # KeyError would quote the message
        return self.args[0]


def order_choices(name: str, choices: Iterable[str], limit: int | None = None) -> list[str]:
    """Return ``choices`` with the close matches of ``name`` first, then the rest in their given order."""
    choices = list(choices)
    close = difflib.get_close_matches(name, choices, n=5, cutoff=0.5)
    lowered = [c for c in choices if name.lower() in c.lower() and c not in close]
    rest = [c for c in choices if c not in close and c not in lowered]
    ordered = close + lowered + rest
    return ordered if limit is None else ordered[:limit]


def describe_choice_error(kind: str, name: str, choices: Iterable[str], hint: str = "") -> str:
    """Format ``unknown <kind> 'name'; valid: a, b, ...`` with close matches first."""
    choices = list(choices)
    ordered = order_choices(name, choices, limit=25)
    more = f", ... ({len(choices) - len(ordered)} more)" if len(choices) > len(ordered) else ""
    valid = ", ".join(ordered) + more if ordered else "(none registered)"
    message = f"unknown {kind} {name!r}; valid choices: {valid}"
    return f"{message}. HINT: {hint}" if hint else message


def require_choice(kind: str, value: str, choices: Iterable[str]) -> str:
    """Return ``value`` if it is one of ``choices``, else raise the one-line choice error."""
    choices = list(choices)
    if value not in choices:
        raise UnknownNameError(kind, value, choices)
    return value


def check_range(
    name: str, value: float, minimum: float | None = None, maximum: float | None = None, positive: bool = False
) -> None:
    """Raise ``ConfigError`` naming ``name`` and the valid range when ``value`` lies outside it."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(f"{name} must be a number, got {value!r}")
    if isinstance(value, float) and not math.isfinite(value):  # nan passes no comparison and inf passes a minimum
        raise ConfigError(f"{name} must be a finite number, got {value!r}")
    bounds = []
    if positive:
        bounds.append(("> 0", value > 0))
    if minimum is not None:
        bounds.append((f">= {minimum}", value >= minimum))
    if maximum is not None:
        bounds.append((f"<= {maximum}", value <= maximum))
    if all(ok for _, ok in bounds):
        return
    raise ConfigError(f"{name} must be {' and '.join(text for text, _ in bounds)}, got {value!r}")


def format_bytes(count: float) -> str:
    """``count`` bytes in the largest binary unit that keeps it >= 1: ``512 KiB``, ``149 GiB``."""
    units = ("bytes", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB")
    power = 0
    while count >= 1024 and power < len(units) - 1:
        count, power = count / 1024, power + 1
    shown = f"{count:,.0f}" if power == 0 or count >= 10 else f"{count:.1f}".removesuffix(".0")
    return f"{shown} {units[power]}"


def check_memory(name: str, value: object, nbytes: float, what: str, limit: int = MEMORY_LIMIT) -> None:
    """Raise ``ConfigError`` when option ``name`` = ``value`` implies more than ``limit`` bytes for ``what``, saying both."""
    if nbytes > limit:
        raise ConfigError(f"{name} {value} would allocate {format_bytes(nbytes)} for {what}; the limit is {format_bytes(limit)}")


def check_printable(name: str, value: str) -> None:
    """Raise ``ConfigError`` when ``value`` holds a control character (newline, tab, NUL, ...), which breaks one-line
    files (TSV metadata, messages) that show it."""
    bad = next((c for c in value if unicodedata.category(c) in ("Cc", "Zl", "Zp")), None)
    if bad is not None:
        raise ConfigError(f"{name} must not contain control characters, got {value!r} (with {bad!r})")


def find_user_error(error: BaseException, types: tuple[type[BaseException], ...] = (LatentProbeError,)) -> BaseException | None:
    """The user error (of ``types``) that caused ``error``; libraries such as jsonargparse wrap it."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        if isinstance(current, types):
            return current
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return None
