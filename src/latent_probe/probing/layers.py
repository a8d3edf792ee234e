"""Naming layers (module paths, patterns, a part of a non-tensor output) and reducing any layer output to a tensor.

The one rule every probe follows:

- a layer is a module path as in ``dict(model.named_modules())``, optionally followed by a part in
  brackets: ``encoder[0]`` (item 0 of a tuple/list output), ``encoder[last_hidden_state]`` (a key of a
  dict or Hugging Face ``ModelOutput``);
- a tensor output is used as is; a tuple/list, dict or ``ModelOutput`` is reduced to its **first
  tensor** unless the layer names a part; the part used is recorded in every moment's ``manifest.json``;
- patterns: fnmatch (``*``, ``?``, ``[...]``), where ``*`` crosses dots (``encoder.*`` also matches
  ``encoder.0.relu``); to match one level, write a regular expression after ``re:``
  (``re:encoder\\.[^.]+``), matched against the whole path;
- a module matched only by a pattern and never called by the forward pass (a timm ViT's ``attn_drop``
  under fused attention) is left out, and the manifest says so; a name given exactly must be called.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable, Mapping
from typing import Any

import torch
from torch import nn

from latent_probe.errors import ConfigError, order_choices

REGEX_PREFIX = "re:"
_PART = re.compile(r"^(?P<path>.*?)\[(?P<part>[^\[\]]+)\]$")
PATTERN_HELP = (
    "layers are module paths as in dict(model.named_modules()), or fnmatch patterns where * crosses dots "
    "(encoder.* also matches encoder.0.relu); for one level use re:encoder\\.[^.]+; name a part of a "
    "tuple/dict output as path[0] or path[key]"
)


def split_part(layer: str) -> tuple[str, str | int | None]:
    """``"encoder[0]"`` -> ``("encoder", 0)``; ``"enc[hidden]"`` -> ``("enc", "hidden")``; no brackets -> part None."""
    match = _PART.match(layer)
    if match is None:
        return layer, None
    part = match.group("part").strip()
    return match.group("path"), int(part) if part.lstrip("-").isdigit() else part


def module_path(layer: str) -> str:
    """The module path of a layer name (its part, if any, removed)."""
    return split_part(layer)[0]


def module_paths(model: nn.Module) -> list[str]:
    """Every named submodule's path, in registration order (the root module excluded)."""
    return [name for name, _ in model.named_modules() if name]


def matches(pattern: str, path: str) -> bool:
    """Whether a module path matches a layer pattern (exact, fnmatch, or ``re:`` regular expression)."""
    if pattern.startswith(REGEX_PREFIX):
        return re.fullmatch(pattern[len(REGEX_PREFIX):], path) is not None
    return path == pattern or fnmatch.fnmatchcase(path, pattern)


def resolve_layers(model: nn.Module, patterns: Iterable[str]) -> list[str]:
    """Expand layer names and patterns to existing layers, in model order; unknown ones raise ``ConfigError``."""
    available = module_paths(model)
    order = {path: i for i, path in enumerate(available)}
    chosen: list[str] = []
    for written in patterns:
        pattern, part = split_part(written)
        check_pattern(pattern)
        found = [path for path in available if matches(pattern, path)]
        if not found:
            listed = ", ".join(order_choices(pattern, available, limit=30))
            raise ConfigError(f"layer {written!r} not found in {type(model).__name__}; module paths: {listed}. HINT: {PATTERN_HELP}")
        suffix = "" if part is None else f"[{part}]"
        chosen += [f"{path}{suffix}" for path in found if f"{path}{suffix}" not in chosen]
    return sorted(chosen, key=lambda layer: order[module_path(layer)])


def is_pattern(written: str) -> bool:
    """Whether a layer entry is a pattern (``re:`` or fnmatch wildcards in its path) rather than one module's name."""
    pattern = module_path(written)
    return pattern.startswith(REGEX_PREFIX) or any(char in pattern for char in "*?[")


def named_exactly(written: Iterable[str]) -> set[str]:
    """The layers that entries name exactly, as ``resolve_layers`` writes them (such a layer must be called; a
    module matched only by a pattern may be skipped by the forward pass)."""
    named = set()
    for entry in written:
        if not is_pattern(entry):
            path, part = split_part(entry)
            named.add(path if part is None else f"{path}[{part}]")
    return named


def check_pattern(pattern: str) -> None:
    """A ``re:`` pattern must compile."""
    if pattern.startswith(REGEX_PREFIX):
        try:
            re.compile(pattern[len(REGEX_PREFIX):])
        except re.error as error:
            raise ConfigError(f"layer pattern {pattern!r} is not a valid regular expression: {error}") from None


def reduce_output(output: Any, part: str | int | None = None) -> tuple[torch.Tensor, str]:
    """The tensor a probe reads from a layer's output, and the part used (``""``, ``"[0]"``, ``"[logits]"``).

    Raises ``TypeError`` (with the reason) when the output holds no such tensor.
    """
    if part is None:
        if isinstance(output, torch.Tensor):
            return output, ""
        for key, value in _items(output):
            if isinstance(value, torch.Tensor):
                return value, f"[{key}]"
        raise TypeError(f"its output ({describe(output)}) holds no tensor")
    value = _part_of(output, part)
    if not isinstance(value, torch.Tensor):
        raise TypeError(f"part [{part}] of its output ({describe(output)}) is a {type(value).__name__}, not a tensor")
    return value, f"[{part}]"


def _items(output: Any) -> list[tuple[Any, Any]]:
    if isinstance(output, Mapping):  # dict, OrderedDict and Hugging Face ModelOutput
        return list(output.items())
    if isinstance(output, (tuple, list)):
        return list(enumerate(output))
    return []


def _part_of(output: Any, part: str | int) -> Any:
    items = dict(_items(output))
    if part in items:
        return items[part]
    if isinstance(part, str) and not isinstance(output, (Mapping, tuple, list)) and hasattr(output, part):
        return getattr(output, part)
    parts = ", ".join(str(k) for k in items) or "none"
    raise TypeError(f"its output ({describe(output)}) has no part [{part}]; parts: {parts}")


def output_kind(output: Any) -> str:
    """What a layer gives, for a table: ``tensor (2, 16)``, ``tuple of 2``, ``dict of 2``, ``ModelOutput of 2``."""
    if isinstance(output, torch.Tensor):
        return f"tensor {tuple(output.shape)}"
    # Hugging Face outputs are named by their base class: the many subclass names say little about the layout.
    kind = next((c.__name__ for c in type(output).__mro__ if c.__name__ == "ModelOutput"), None)
    if kind is None:
        kind = "dict" if isinstance(output, Mapping) else type(output).__name__
    return f"{kind} of {len(output)}" if isinstance(output, (Mapping, tuple, list)) else kind


def describe(output: Any) -> str:
    """A short description of a layer output for messages: ``tensor (2, 16)``, ``tuple of 2``, ``dict with keys a, b``."""
    if isinstance(output, torch.Tensor):
        return f"tensor {tuple(output.shape)}"
    if isinstance(output, Mapping):
        return f"{type(output).__name__} with keys {', '.join(map(str, output))}"
    if isinstance(output, (tuple, list)):
        return f"{type(output).__name__} of {len(output)}"
    return type(output).__name__


# The modules a network applies its nonlinearity with: the natural layers to read when a probe is given none.
ACTIVATION_TYPES = (nn.ReLU, nn.LeakyReLU, nn.Tanh, nn.Sigmoid, nn.GELU, nn.ELU, nn.SELU, nn.SiLU, nn.Softplus, nn.Mish)


def activation_modules(model: nn.Module) -> list[str]:
    """The paths of ``model``'s activation modules (``ACTIVATION_TYPES``), in model order."""
    return [name for name, module in model.named_modules() if name and isinstance(module, ACTIVATION_TYPES)]
