"""Model phase events: how a model tells callbacks (probes) that a training phase just ended.

A model with phases (e.g. the stacked denoising autoencoder's greedy pretraining, then
fine-tuning) calls ``notify_phase_end(self, "pretrain_end")`` at the end of that phase, on every
rank. Every callback of the trainer that defines ``on_phase_end(trainer, pl_module, phase)`` is
called, in callback order. Probes use it to fire at named moments such as ``pretrain_end``.

A model declares the phases it announces in a ``phases`` attribute (a tuple of names, or a property when they
depend on its options): a probe's ``moments`` are checked against them (and ``fit_end``, ``test_end``,
``validate_end``) before training, so a misspelt moment is an error rather than a probe that never fires.
"""

from __future__ import annotations

import pytorch_lightning as pl

PHASE_HOOK = "on_phase_end"


def notify_phase_end(pl_module: pl.LightningModule, phase: str) -> list[str]:
    """Call ``on_phase_end(trainer, pl_module, phase)`` on every callback that has it; returns their class names."""
    trainer = pl_module._trainer  # noqa: SLF001  (the public property raises when detached)
    if trainer is None:
        return []
    called = []
    for callback in trainer.callbacks:
        hook = getattr(callback, PHASE_HOOK, None)
        if callable(hook):
            hook(trainer, pl_module, phase)
            called.append(type(callback).__name__)
    return called
