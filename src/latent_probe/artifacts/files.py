"""Writing files atomically (streamed temp file, fsync, rename) and file-safe names."""

from __future__ import annotations

import json
import os
import re
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

_UMASK = os.umask(0)
os.umask(_UMASK)
FILE_MODE = 0o666 & ~_UMASK  # what open() would have given a new file


def safe_name(text: str) -> str:
    """A file-name-safe version of a module path or tag (``encoder.mean`` stays readable)."""
    return re.sub(r"[^A-Za-z0-9._=-]+", "_", text).strip("_") or "_"


@contextmanager
def atomic_file(path: str | Path) -> Iterator[BinaryIO]:
    """A binary file handle on a temp file beside ``path``; on success it is fsynced and renamed over ``path``.

    Writers stream into it, so a large artifact is never held twice in memory; on any error the
    temp file is removed and ``path`` keeps its old content (or stays absent).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            yield handle
            handle.flush()
            os.fchmod(handle.fileno(), FILE_MODE)  # mkstemp's 0600 would hide artifacts from the user's group
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_bytes_atomic(path: str | Path, data: bytes) -> Path:
    """Atomically write ``data`` to ``path``."""
    with atomic_file(path) as handle:
        handle.write(data)
    return Path(path)


def write_text_atomic(path: str | Path, text: str) -> Path:
    """Atomically write UTF-8 text."""
    return write_bytes_atomic(path, text.encode("utf-8"))


def write_json_atomic(path: str | Path, payload: Any) -> Path:
    """Atomically write ``payload`` as indented JSON (numpy scalars and arrays converted)."""
    return write_text_atomic(path, json.dumps(payload, indent=2, sort_keys=True, default=_json_default) + "\n")


def write_npz_atomic(path: str | Path, arrays: dict[str, np.ndarray]) -> Path:
    """Atomically write a compressed ``.npz``, streamed to disk; keys may contain dots (module paths)."""
    with atomic_file(path) as handle:
        np.savez_compressed(handle, **arrays)
    return Path(path)


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"cannot write {type(value).__name__} as JSON")
