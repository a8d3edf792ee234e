"""Turn jsonargparse's multi-line parse errors into the one line the user needs."""

from __future__ import annotations

import re

# Lines that only say *where* the nested error happened; the useful detail comes after them.
_NOISE = (
    re.compile(r"^Parser key \".*\":?$"),
    re.compile(r"^Does not validate against any of the types in"),
    re.compile(r"^- Problem with given class_path"),
    re.compile(r"^Validation failed:?$"),
    re.compile(r"^Given value type .* is not"),
    re.compile(r"^Expected a <class 'bool'>|^Expected a <class 'NoneType'>|^Expected a <class 'str'>"),
    re.compile(r"^Not of type"),
)


def condense_parser_error(message: str) -> str:
    """One line: the outermost key that failed plus the most specific reason found in the message."""
    lines = [line.strip(" -") for line in message.strip().splitlines() if line.strip(" -")]
    if len(lines) <= 1:
        return lines[0] if lines else message
    key = next((m.group(1) for line in lines if (m := re.match(r'^Parser key "([^"]+)"', line))), None)
    details = [line for line in lines if not any(p.search(line) for p in _NOISE)]
    reason = _most_specific(details) or lines[-1]
    return f'key "{key}": {reason}' if key and key not in reason else reason


def _most_specific(details: list[str]) -> str | None:
    for marker in ("Unrecognized arguments", "No action for key", "does not accept", "is not a", "Expected", "Invalid", "must"):
        found = next((d for d in details if marker in d), None)
        if found:
            return found
    return details[-1] if details else None
