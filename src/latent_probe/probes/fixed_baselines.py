"""The linear probe's baselines that stay fixed within a run: the read-outs on the raw inputs and on the layers at the
model's initial weights.

Neither the inputs nor the initial weights change between moments, and every moment draws the same seeded samples, so
the two baselines give the same per-sample results at every moment: they are fitted at the first moment that fires and
reused after it, when the samples are the same (the held-out samples' dataset indices are kept and compared, the fit
split's with the read-out's settings by a digest). Later moments then run no pass at the initial weights and keep no
inputs. The probe's state keeps them across a resume: one bool per held-out sample and read-out (a few kB), as tensors,
which a checkpoint loaded with ``weights_only=True`` accepts.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

KEPT_AS = "fitted once, at the moment named, and reused: neither the inputs nor the initial weights change within a run"


def samples_digest(fit_index: torch.Tensor, settings: Any) -> str:
    """``sha256:<hex>`` of the fit split's dataset indices and the read-out's settings (equal ones, equal digest)."""
    digest = hashlib.sha256(repr(settings).encode())
    digest.update(fit_index.detach().cpu().to(torch.int64).contiguous().numpy().tobytes())
    return f"sha256:{digest.hexdigest()}"


@dataclass
class FixedBaselines:
    """Which held-out samples each baseline read-out got right, where it was fitted, and what the metrics say of it.

    Made on every rank when a moment computes the baselines; global rank 0, which fits and writes, completes it.
    """

    moment: str  # where the baselines were fitted
    samples: str  # samples_digest of the fit split and the settings
    index: torch.Tensor  # the held-out samples' dataset indices
    inputs: torch.Tensor | None = None  # bool per held-out sample: the read-out on the raw inputs (None: none)
    input_record: dict[str, Any] = field(default_factory=dict)  # its method, features and reduction (metrics.json)
    untrained: dict[str, torch.Tensor] | None = None  # bool per held-out sample and layer at the initial weights
    skipped: dict[str, str] = field(default_factory=dict)  # what the manifest said was left out, said again when reused
    complete: bool = False  # the per-sample results are in

    def fits(self, samples: str, index: torch.Tensor, writes: bool) -> bool:
        """Whether these baselines serve a moment of these samples (on the rank that writes, only once they are complete)."""
        same = self.samples == samples and torch.equal(self.index, index.detach().cpu())
        return same and (self.complete or not writes)

    def fill(self, inputs: np.ndarray | None, input_record: dict[str, Any], untrained: dict[str, np.ndarray] | None,
             skipped: dict[str, str]) -> None:
        """Keep one moment's per-sample results (``write`` on global rank 0)."""
        self.inputs = None if inputs is None else torch.as_tensor(inputs, dtype=torch.bool)
        self.untrained = None if untrained is None else {p: torch.as_tensor(c, dtype=torch.bool) for p, c in untrained.items()}
        self.input_record, self.skipped, self.complete = dict(input_record), dict(skipped), True

    def scores(self) -> tuple[np.ndarray | None, dict[str, np.ndarray] | None]:
        """The raw inputs' and the untrained layers' per-sample results, as the bootstrap takes them."""
        inputs = None if self.inputs is None else self.inputs.numpy()
        return inputs, None if self.untrained is None else {p: c.numpy() for p, c in self.untrained.items()}

    def state(self) -> dict[str, Any]:
        """The probe's state entry: tensors, strings and dicts only."""
        return {"moment": self.moment, "samples": self.samples, "index": self.index, "inputs": self.inputs,
                "input_record": self.input_record, "untrained": self.untrained, "skipped": self.skipped}

    @classmethod
    def from_state(cls, state: Any) -> FixedBaselines | None:
        """Baselines restored from ``state()`` (None for anything else: they are fitted again)."""
        if not isinstance(state, dict) or not isinstance(state.get("index"), torch.Tensor):
            return None
        try:
            return cls(str(state["moment"]), str(state["samples"]), state["index"], state.get("inputs"),
                       dict(state.get("input_record") or {}), state.get("untrained"), dict(state.get("skipped") or {}), True)
        except (KeyError, TypeError, ValueError):
            return None
