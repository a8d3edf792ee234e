"""Save a checkpoint when a fit is stopped by SIGTERM or Ctrl-C, so a preempted run loses no work."""

from __future__ import annotations

from pathlib import Path

import pytorch_lightning as pl
from pytorch_lightning import Callback
from pytorch_lightning.utilities.exceptions import SIGTERMException

from latent_probe.cli.interrupt import INTERRUPTED_NAME, saved


class InterruptCheckpoint(Callback):
    """On SIGTERM (Lightning turns it into ``SIGTERMException``) or KeyboardInterrupt, write
    ``checkpoints/interrupted.ckpt`` beside ``last.ckpt``; resume with ``--ckpt_path <that file>``."""

    def on_exception(self, trainer: pl.Trainer, pl_module: pl.LightningModule, exception: BaseException) -> None:
        """Save the current state if the run was interrupted (not for ordinary errors)."""
        if not isinstance(exception, (SIGTERMException, KeyboardInterrupt)):
            return
        callback = trainer.checkpoint_callback
        folder = Path(callback.dirpath) if callback is not None and callback.dirpath else Path(trainer.default_root_dir)
        trainer.save_checkpoint(folder / INTERRUPTED_NAME, weights_only=False)  # the full state, said explicitly
        saved[:] = [folder / INTERRUPTED_NAME]
