"""A probe that reads its layers at the initial weights and at the current ones, and a callback that kills a run."""

from __future__ import annotations

import numpy as np
import pytorch_lightning as pl

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


class RaiseAtEpochEnd(pl.Callback):
    """Stops its run with an error at the end of epoch ``epoch``, after the probes fired (a run that dies there)."""

    def __init__(self, epoch: int = 1) -> None:
        self.epoch = epoch

    def on_train_epoch_end(self, trainer, pl_module):
        """Fail once the epoch's probes have written."""
        if trainer.current_epoch == self.epoch:
            raise RuntimeError(f"the run dies after epoch {self.epoch} (raised by the test)")
