"""Checkpoints written like every artifact: a temp file in the checkpoint's own folder, fsync, then rename.

Lightning's own writer goes through an in-memory buffer and fsspec, and a full disk left a 0-byte ``last.ckpt``
behind; here a failed write leaves the previous checkpoint as it was. A temp file left by a killed write is removed
when the run is resumed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from lightning_fabric.plugins.io.torch_io import TorchCheckpointIO

from latent_probe.artifacts.files import atomic_file

TEMP_PATTERN = ".*.ckpt.*.tmp"  # what artifacts.files.atomic_file names its temp files after a .ckpt target


class AtomicCheckpointIO(TorchCheckpointIO):
    """``TorchCheckpointIO`` whose local writes are atomic (remote paths keep Lightning's own writer) and whose loads never
    unpickle."""

    def save_checkpoint(self, checkpoint: dict[str, Any], path: Any, storage_options: Any | None = None) -> None:
        """Stream ``torch.save`` into a temp file beside ``path``, fsync it and rename it over ``path``."""
        if storage_options is not None or "://" in str(path):
            return super().save_checkpoint(checkpoint, path, storage_options)
        with atomic_file(path) as handle:
            torch.save(checkpoint, handle)
        return None

    def load_checkpoint(self, path: Any, map_location: Any | None = lambda storage, loc: storage,
                        weights_only: bool | None = None) -> dict[str, Any]:
        """Lightning's load, always with ``weights_only=True``: nothing in a checkpoint is unpickled, whoever asks."""
        return super().load_checkpoint(path, map_location=map_location, weights_only=True)


def remove_stray_temp_files(checkpoint_folder: str | Path) -> list[Path]:
    """Delete temp files a killed checkpoint write left in ``checkpoint_folder``; returns them."""
    stray = sorted(Path(checkpoint_folder).glob(TEMP_PATTERN))
    for path in stray:
        path.unlink(missing_ok=True)
    return stray
