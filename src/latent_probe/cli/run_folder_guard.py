"""A failed command leaves no new run folder behind: what it created and holds nothing of value is removed.

Most bad input is refused before the trainer exists, so no folder is made. What is found later (inside the trainer's
setup or first steps) used to leave ``runs/<exp>/version_N`` with a config and an empty event file: debris that
``--ckpt_path last`` then took for the newest run. Interrupts keep their folder (their checkpoint resumes it).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytorch_lightning as pl
from pytorch_lightning import Callback
from pytorch_lightning.utilities.exceptions import SIGTERMException

from latent_probe.artifacts.layout import COMPLETE_MARKER, probes_dir


def holds_results(folder: Path) -> bool:
    """Whether a run folder holds a checkpoint or a complete probe moment (then it is never removed)."""
    return any((folder / "checkpoints").glob("*.ckpt")) or any(probes_dir(folder).glob(f"*/*/{COMPLETE_MARKER}"))


class RunFolderGuard(Callback):
    """On a failure (not an interrupt), remove the run folder if this command created it and it holds no results."""

    def __init__(self, log_dir: str | Path | None) -> None:
        self.folder = Path(log_dir) if log_dir and "://" not in str(log_dir) else None
        self.existed = self.folder is None or self.folder.exists() or self.folder.is_symlink()

    def on_exception(self, trainer: pl.Trainer, pl_module: pl.LightningModule, exception: BaseException) -> None:
        """Remove the new, empty-handed run folder (and its experiment folder if nothing else is in it)."""
        if self.existed or isinstance(exception, (KeyboardInterrupt, SIGTERMException)) or not trainer.is_global_zero:
            return
        folder = self.folder
        if folder is None or folder.is_symlink() or not folder.is_dir() or holds_results(folder):
            return
        shutil.rmtree(folder, ignore_errors=True)
        try:
            folder.parent.rmdir()  # only if empty: other runs of the experiment stay
        except OSError:
            pass
