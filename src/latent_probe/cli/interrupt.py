"""SIGTERM and Ctrl-C stop a command in one line; a fit stopped so saves a checkpoint first (``interrupt_checkpoint``).

This module imports no Lightning: ``main`` installs the SIGTERM handler for commands that never import it (the report).
"""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

INTERRUPTED_NAME = "interrupted.ckpt"
saved: list[Path] = []  # where the last interruption saved its checkpoint (main's closing line names it)
LIGHTNING_EXCEPTIONS = "pytorch_lightning.utilities.exceptions"


class StoppedBySigterm(SystemExit):
    """SIGTERM outside a Trainer in a command that has not imported Lightning (Lightning's ``SIGTERMException`` otherwise)."""


def is_sigterm(error: BaseException) -> bool:
    """Whether ``error`` is a SIGTERM stop: ours, or Lightning's ``SIGTERMException`` (only possible once it is imported)."""
    lightning = sys.modules.get(LIGHTNING_EXCEPTIONS)
    return isinstance(error, StoppedBySigterm) or (lightning is not None and isinstance(error, lightning.SIGTERMException))


def sigterm_as_exception(signum: int, frame: object) -> None:
    """SIGTERM outside Lightning's runs (setup, the report) stops the command as Ctrl-C does, through main's one line.

    While a Trainer runs, Lightning installs its own handler (which calls this one too): then it is Lightning's to
    stop at the next batch, saving a checkpoint, so nothing is raised here.
    """
    if signal.getsignal(signal.SIGTERM) is sigterm_as_exception:
        lightning = sys.modules.get(LIGHTNING_EXCEPTIONS)  # its callbacks know SIGTERMException: raise that once imported
        raise lightning.SIGTERMException() if lightning is not None else StoppedBySigterm()


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
