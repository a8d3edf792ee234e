"""A probe that reads its layers at the initial weights and at the current ones (the engine's initial weights, tested)."""

from __future__ import annotations

import numpy as np

from latent_probe.probing import Probe
from latent_probe.probing.initial_weights import model_tensors, weights_digest


class InitialAndCurrent(Probe):
    """Its layers at the initial and at the current weights, and the model's weights digest before and after reading."""

    needs_initial_weights = True

    def compute(self, firing):
        """Both readings; the digests show whether the initial pass left the model's own weights in place."""
        before = weights_digest(model_tensors(firing.model))
        initial = firing.activations(weights="initial")
        after = weights_digest(model_tensors(firing.model))
        current = firing.activations()
        return {"index": initial.index.numpy(), **{f"initial/{k}": v.numpy() for k, v in initial.outputs.items()},
                **{f"current/{k}": v.numpy() for k, v in current.outputs.items()}}, {"before": before, "after": after}

    def write(self, result, out):
        """``activations.npz`` and ``digests.json``."""
        arrays, digests = result
        out.npz("activations.npz", {key: np.asarray(value) for key, value in arrays.items()})
        out.json("digests.json", digests)
