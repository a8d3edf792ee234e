"""One run, one current checkpoint: Lightning's ``ModelCheckpoint`` continuing its run however the path was spelled.

Lightning restores a checkpoint callback's state only when the saved ``dirpath`` string equals the new one, so a run
resumed by another spelling of its folder (absolute vs relative, ``..``, a symlinked folder, a run folder moved or
received from someone else) lost its ``last_model_path``: the run then wrote ``last-v1.ckpt`` and ``last.ckpt`` stayed
at the old epoch, which ``--ckpt_path last`` and ``test`` silently used. Here a checkpoint resumed from this run's own
checkpoint folder (compared as real paths) gets its file names moved to the folder as spelled now.

The saved paths are data from a file: only plain file names directly inside the saved folder are kept (moved into
this run's folder), so a hostile ``best_k_models`` entry such as ``checkpoints/../../x`` can never be deleted later as
an outdated checkpoint.
"""

from __future__ import annotations

import os
from typing import Any

import pytorch_lightning as pl
from pytorch_lightning.callbacks import ModelCheckpoint

PATH_KEYS = ("best_model_path", "kth_best_model_path", "last_model_path")


def same_folder(one: str | os.PathLike, two: str | os.PathLike) -> bool:
    """Whether two spellings name one folder (symlinks and ``..`` resolved)."""
    return os.path.realpath(one) == os.path.realpath(two)


def moved_into(path: Any, saved_dir: str, dirpath: str) -> str:
    """``path`` moved from ``saved_dir`` into ``dirpath`` if it is a plain file name directly in ``saved_dir``; else ''."""
    if not isinstance(path, str) or not path:
        return ""
    folder, name = os.path.split(os.path.normpath(path))
    if name in ("", ".", "..") or os.path.normpath(folder) != os.path.normpath(saved_dir):
        return ""
    return os.path.join(dirpath, name)


class RunCheckpoint(ModelCheckpoint):
    """``ModelCheckpoint`` whose state survives a resume by any spelling of the run's checkpoint folder."""

    trainer: pl.Trainer | None = None

    @property
    def state_key(self) -> str:
        """Lightning's own key, so checkpoints written with ``ModelCheckpoint`` and this class restore each other."""
        return super().state_key.replace(type(self).__qualname__, ModelCheckpoint.__qualname__, 1)

    def setup(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        """Keep the trainer: the checkpoint being restored is known to it (``ckpt_path``) only after setup."""
        super().setup(trainer, pl_module, stage)
        self.trainer = trainer

    def resumes_own_run(self) -> bool:
        """Whether the checkpoint being restored lies in this callback's checkpoint folder."""
        resumed_from = self.trainer.ckpt_path if self.trainer is not None else None
        return bool(resumed_from and self.dirpath) and same_folder(os.path.dirname(os.path.realpath(resumed_from)), self.dirpath)

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore the state with its paths moved into this folder (own run), or as Lightning does for another run."""
        state = dict(state_dict)
        saved_dir = str(state.get("dirpath") or "")
        if not self.resumes_own_run() or not saved_dir:
            # Another run's checkpoint: Lightning keeps only best_model_path, never used to delete anything. A saved
            # folder spelled like this one but not holding the checkpoint is not this run (a copied or forged file).
            if saved_dir == str(self.dirpath):
                state["dirpath"] = f"{saved_dir} (another run)"
            state["best_model_path"] = str(state.get("best_model_path") or "")
            return super().load_state_dict(state)
        dirpath = str(self.dirpath)
        for key in PATH_KEYS:
            state[key] = moved_into(state.get(key), saved_dir, dirpath)
        best = state.get("best_k_models") if isinstance(state.get("best_k_models"), dict) else {}
        state["best_k_models"] = {moved_into(path, saved_dir, dirpath): score for path, score in best.items()
                                  if moved_into(path, saved_dir, dirpath)}
        state["dirpath"] = dirpath
        return super().load_state_dict(state)
