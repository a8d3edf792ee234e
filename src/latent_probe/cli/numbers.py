"""Numbers a config may hold: integers within int64 (what torch, numpy and Lightning can take), floats finite.

No Lightning or latent-probe option needs an infinite value: where inf would mean "never" or "no limit"
(``gradient_clip_val``, ``EarlyStopping`` thresholds) the option takes ``None`` for that, so NaN and inf are refused
everywhere, as are integers that no tensor, numpy array or C long could hold.
"""

from __future__ import annotations

import math

from latent_probe.errors import ConfigError

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
MAX_DIGITS = 4300  # Python's int() refuses longer strings (sys.get_int_max_str_digits)


def shown(text: str) -> str:
    """``text``, shortened to its first 20 characters when it is longer than 40."""
    return text if len(text) <= 40 else f"{text[:20]}... ({len(text):,} characters)"


def number_problem(value: object, text: str | None = None) -> str | None:
    """Why ``value`` (written ``text``) cannot be a config value, as ``must be ..., got ...``; None when it can."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    if isinstance(value, int) and not INT64_MIN <= value <= INT64_MAX:
        return f"must be within the 64-bit integer range [{INT64_MIN}, {INT64_MAX}], got {shown(text or str(value))}"
    if isinstance(value, float) and not math.isfinite(value):
        written = f" (written {shown(text)})" if text is not None and text.strip() != repr(value) else ""
        return f"must be a finite number, got {value!r}{written}"
    return None


def check_plain_number(text: str, where: str) -> None:
    """Refuse a plain option value that jsonargparse would read as an out-of-range number (``1e400``, 20 digits).

    jsonargparse reads ``--key 123`` and ``--key 1e5`` itself (digits: int; digits with ``.`` or ``e``: float) without
    the YAML loader, so these are checked here, by the same rule.
    """
    value = text.strip()
    digits = value[1:] if value.startswith("-") else value
    number: int | float | None = None
    try:
        if digits.isdigit():
            number = int(value) if len(digits) <= MAX_DIGITS else 10**MAX_DIGITS
        elif value.replace(".", "", 1).replace("e", "", 1).replace("-", "", 2).isdigit() and ("e" in value or "." in value):
            number = float(value)
    except ValueError:
        return  # jsonargparse keeps it a string too
    problem = number_problem(number, value)
    if problem:
        raise ConfigError(f"{where} {problem}")
