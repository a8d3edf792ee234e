"""The Probe base class: a Lightning Callback that looks inside a model (fleshed out in probes/*)."""

from __future__ import annotations

from pytorch_lightning import Callback


class Probe(Callback):
    """Base of every probe; subclasses are registered with ``register_probe`` and listed under ``probes:``."""
