"""``latent-probe list``: every registered model, datamodule and probe with one line of doc."""

from __future__ import annotations

from latent_probe.errors import require_choice
from latent_probe.registry import REGISTRIES


def registered_rows(kinds: list[str] | None = None) -> list[tuple[str, str, str]]:
    """``(kind, name, first doc line)`` for every registered component of the given kinds (built-ins not imported)."""
    kinds = kinds or list(REGISTRIES)
    rows = []
    for kind in kinds:
        registry = REGISTRIES[require_choice("list kind", kind, REGISTRIES)]
        rows += [(registry.kind, name, registry.description(name)) for name in registry.list()]
    return rows


def print_registered(kinds: list[str]) -> None:
    """Print one aligned line per registered component."""
    rows = registered_rows(kinds)
    name_width = max((len(name) for _, name, _ in rows), default=0)
    for kind, name, doc in rows:
        print(f"{kind:<10}  {name:<{name_width}}  {doc}".rstrip())
