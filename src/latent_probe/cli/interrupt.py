"""Save a checkpoint when a fit is stopped by SIGTERM or Ctrl-C, so a preempted run loses no work."""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
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
        trainer.save_checkpoint(folder / INTERRUPTED_NAME, weights_only=False)  # the full state, said explicitly
        saved[:] = [folder / INTERRUPTED_NAME]


def sigterm_as_exception(signum: int, frame: object) -> None:
    """SIGTERM outside Lightning's runs (setup, the report) stops the command as Ctrl-C does, through main's one line.

    While a Trainer runs, Lightning installs its own handler (which calls this one too): then it is Lightning's to
    stop at the next batch, saving a checkpoint, so nothing is raised here.
    """
    if signal.getsignal(signal.SIGTERM) is sigterm_as_exception:
        raise SIGTERMException()


@contextmanager
def sigterm_stops_the_command() -> Iterator[None]:
    """Install ``sigterm_as_exception`` for the duration of one command (main thread only), then restore the old one."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, sigterm_as_exception)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
