"""Reading a run folder's ``.npz`` as data: through the run-file readers (inside the run, a regular file, size capped),
never unpickled, and no member unpacked past a cap (a zip bomb of a few KB would otherwise expand to gigabytes)."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import numpy as np

from latent_probe.artifacts.run_files import read_run_bytes
from latent_probe.errors import ConfigError


def read_run_npz(root: str | Path, path: str | Path, cap: int) -> dict[str, np.ndarray]:
    """Every array of the ``.npz`` at ``path`` inside the run ``root``: at most ``cap`` bytes on disk and per array
    unpacked, no object arrays (``allow_pickle=False``); else a one-line ``ConfigError`` naming the file."""
    data = read_run_bytes(root, path, cap)
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            large = next((info for info in archive.infolist() if info.file_size > cap), None)
        if large is not None:
            raise ConfigError(f"{str(path)!r} holds {large.filename!r} of {large.file_size:,} bytes unpacked, over the cap of {cap:,}")
        with np.load(io.BytesIO(data), allow_pickle=False) as npz:
            return {key: npz[key] for key in npz.files}
    except (zipfile.BadZipFile, ValueError, OSError, EOFError) as error:  # not an npz, object arrays, truncated members
        raise ConfigError(f"{str(path)!r} is not a readable .npz ({type(error).__name__}: {str(error)[:200]})") from None


__all__ = ["read_run_npz"]
