"""``StreamState``: what a streaming probe accumulates batch by batch on each process, then reduces across processes.

Modelled on torchmetrics' ``Metric`` states (``add_state(name, default, dist_reduce_fx)``): every state is a tensor
with a reduction (``sum``, ``max`` or ``min``) that is associative and commutative, so the result does not depend on
how the split was sharded over processes or cut into batches. Sums are best kept in float64: a float32 sum over a
large split loses digits, and 1 and N processes would then differ by more than rounding.
"""

from __future__ import annotations

from typing import Any

import torch

from latent_probe.errors import require_choice

REDUCTIONS = ("sum", "max", "min")


class StreamState:
    """Named tensors, each with its reduction across processes; ``sync`` reduces them all (every rank must call it)."""

    # True for a state whose statistics depend on which samples arrive together (groups of consecutive samples): the
    # pass then visits its samples in a seeded random order rather than the dataset's (``sharding.visiting_order``).
    needs_random_order = False

    def __init__(self) -> None:
        self.values: dict[str, torch.Tensor] = {}
        self.reductions: dict[str, str] = {}
        self.synced = False

    def add(self, name: str, default: torch.Tensor, reduce: str = "sum") -> None:
        """Declare a state with its start value (the identity of ``reduce``: zeros for sums, -inf for a max)."""
        require_choice("reduce", reduce, REDUCTIONS)
        self.values[name], self.reductions[name] = default.clone(), reduce

    def __getitem__(self, name: str) -> torch.Tensor:
        return self.values[name]

    def __setitem__(self, name: str, value: torch.Tensor) -> None:
        if name not in self.values:
            raise KeyError(f"state {name!r} was not declared with add()")
        self.values[name] = value

    def to(self, device: torch.device) -> StreamState:
        """The states moved to ``device`` (where the model runs, so that updates need no copies)."""
        for name, value in self.values.items():
            self.values[name] = value.to(device)
        return self

    def sync(self, strategy: Any, world_size: int) -> None:
        """Reduce every state across the ``world_size`` processes of ``strategy`` (in declaration order, on every rank)."""
        if world_size > 1:
            for name, value in self.values.items():
                self.values[name] = _reduced(strategy, value, self.reductions[name])
        self.synced = True


def _reduced(strategy: Any, value: torch.Tensor, reduce: str) -> torch.Tensor:
    if reduce == "sum":
        return strategy.reduce(value.clone(), reduce_op="sum")
    gathered = strategy.all_gather(value)  # (world_size, ...)
    return gathered.amax(dim=0) if reduce == "max" else gathered.amin(dim=0)
