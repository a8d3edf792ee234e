"""Save a checkpoint when a fit is stopped by SIGTERM or Ctrl-C, so a preempted run loses no work."""

from __future__ import annotations

from pathlib import Path

import pytorch_lightning as pl
from pytorch_lightning import Callback
from pytorch_lightning.utilities.exceptions import SIGTERMException

INTERRUPTED_NAME = "interrupted.ckpt"
saved: list[Path] = []  # where the last interruption saved its checkpoint (main's closing line names it)


class InterruptCheckpoint(Callback):
    """On SIGTERM (Lightning turns it into ``SIGTERMException``) or KeyboardInterrupt, write
    ``checkpoints/interrupted.ckpt`` beside ``last.ckpt``; resume with ``--ckpt_path <that file>``."""

    def on_exception(self, trainer: pl.Trainer, pl_module: pl.LightningModule, exception: BaseException) -> None:
        """Save the current state if the run was interrupted (not for ordinary errors)."""
        if not isinstance(exception, (SIGTERMException, KeyboardInterrupt)):
            return
        callback = trainer.checkpoint_callback
        folder = Path(callback.dirpath) if callback is not None and callback.dirpath else Path(trainer.default_root_dir)
        trainer.save_checkpoint(folder / INTERRUPTED_NAME)
        saved[:] = [folder / INTERRUPTED_NAME]
