"""The sink of one probe firing: ``<log_dir>/probes/<probe>/<moment>/``, its files, TensorBoard, the projector, the manifest.

Every file is written atomically. The moment's ``manifest.json`` (what wrote it, which layers and
which part of their outputs, what was skipped) and then the ``.complete`` marker are written last,
so a resumed run knows which moments are whole, and the report needs no probe code to describe them.
With ``background=True`` pictures are encoded and written on one worker thread: zlib and Pillow's encoders
release the GIL, so a picture's encoding overlaps the drawing of the next (``flush`` waits for them all).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import torch
from matplotlib.figure import Figure
from tensorboard.compat.proto.summary_pb2 import Summary

from latent_probe.artifacts.encoding import gif_bytes, png_bytes, to_hwc_uint8
from latent_probe.artifacts.files import safe_name, write_bytes_atomic, write_json_atomic, write_npz_atomic
from latent_probe.artifacts.layout import (  # noqa: F401  the layout's names, as they were here before layout.py
    COMPLETE_MARKER,
    MANIFEST_NAME,
    is_complete,
    moment_dir,
    probes_dir,
    read_manifest,
)
from latent_probe.artifacts.projector import write_embedding

# What mark_complete writes into every manifest besides ``about``.
MANIFEST_KEYS = frozenset({"probe", "moment", "step", "files", "skipped"})


class MomentWriter:
    """Writes one probe's artifacts for one moment, atomically, and logs images and scalars to TensorBoard.

    Args:
        log_dir: the run folder.
        probe_name: the probe's folder name under ``probes/``.
        moment: the moment (``fit_end``, ``epoch=0004``, ``probe``, ...).
        step: the global step TensorBoard records.
        tensorboard: a ``SummaryWriter``, or None (images and scalars then go to files only).
        about: what the manifest says of the probe (class, description, layers and parts read, options).
        background: encode and write pictures on a worker thread; ``flush`` (or ``close``) waits for them.
    """

    def __init__(self, log_dir: str | Path, probe_name: str, moment: str, step: int, tensorboard=None,
                 about: dict[str, Any] | None = None, background: bool = False) -> None:
        self.log_dir = Path(log_dir)
        self.probe_name, self.moment, self.step = probe_name, moment, step
        self.dir = moment_dir(log_dir, probe_name, moment)
        self.tensorboard = tensorboard
        self.about = dict(about or {})
        self.written: list[Path] = []
        self.skipped: dict[str, str] = {}
        # One worker: pictures reach TensorBoard in the order they were drawn.
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="moment-writer") if background else None
        self._pending: list[Future] = []

    def path(self, name: str) -> Path:
        """Path of an artifact file in this moment's folder."""
        return self.dir / name

    def _record(self, path: Path) -> Path:
        self.written.append(path)
        return path

    # ----- files ---------------------------------------------------------------------------
    def png(self, name: str, image, tag: str | None = None) -> Path:
        """Write ``image`` (Figure, array or CHW tensor) as ``name``; also to TensorBoard under ``tag``."""
        self._soon(self._write_png, self.path(name), self._snapshot(image), tag)
        return self._record(self.path(name))

    def gif(self, name: str, frames: list, duration_ms: int = 80) -> Path:
        """Write an animated GIF."""
        arrays = [self._snapshot(frame) for frame in frames]
        self._soon(lambda: write_bytes_atomic(self.path(name), gif_bytes(arrays, duration_ms)))
        return self._record(self.path(name))

    def _snapshot(self, image) -> np.ndarray:
        # Figures are rendered here, on the caller's thread (matplotlib is not thread-safe); a picture handed to
        # the worker is copied, so the caller may draw the next one into the same buffer.
        array = to_hwc_uint8(image)
        return array.copy() if self._worker is not None and not isinstance(image, Figure) else array

    def _write_png(self, path: Path, array: np.ndarray, tag: str | None) -> None:
        encoded = png_bytes(array)
        if tag:
            self._log_png(tag, encoded, array.shape)
        write_bytes_atomic(path, encoded)

    def _soon(self, job: Callable, *args) -> None:
        if self._worker is None:
            job(*args)
        else:
            self._pending.append(self._worker.submit(job, *args))

    def npz(self, name: str, arrays: dict[str, np.ndarray]) -> Path:
        """Write a compressed ``.npz`` (keys may be module paths)."""
        return self._record(write_npz_atomic(self.path(name), arrays))

    def json(self, name: str, payload: Any) -> Path:
        """Write JSON."""
        return self._record(write_json_atomic(self.path(name), payload))

    def embedding(self, key: str, points: np.ndarray, metadata: dict[str, list] | None = None,
                  images: torch.Tensor | None = None, tensor_format: str = "binary") -> Path:
        """Add ``points`` ``(n, dim)`` to TensorBoard's projector as ``<probe>/<key>@<moment>``, with metadata and sprites.

        ``tensor_format``: ``"binary"`` (raw float32, TSV where TensorBoard would misread the bytes) or ``"tsv"``.
        """
        folder = self.dir.relative_to(self.log_dir) / "projector" / safe_name(key)
        return self._record(write_embedding(self.log_dir, folder, f"{self.probe_name}/{key}@{self.moment}", points, metadata, images,
                                            tensor_format=tensor_format))

    # ----- values --------------------------------------------------------------------------
    def finite(self, arrays: dict[str, Any]) -> dict[str, Any]:
        """The arrays (numpy, or tensors on any device) without NaN or inf; each dropped one is warned about by name and
        listed in the manifest."""
        kept = {}
        for key, values in arrays.items():
            finite = torch.isfinite(values).all() if isinstance(values, torch.Tensor) else np.isfinite(np.asarray(values)).all()
            if finite:
                kept[key] = values
            else:
                self.skipped[key] = "NaN or inf values"
                warnings.warn(f"probe {self.probe_name!r} at {self.moment}: {key!r} has NaN or inf values; skipped", stacklevel=2)
        return kept

    # ----- TensorBoard ---------------------------------------------------------------------
    def image(self, tag: str, image) -> None:
        """Log an image to TensorBoard (no file)."""
        array = self._snapshot(image)
        self._soon(lambda: self._log_png(tag, png_bytes(array), array.shape))

    def _log_png(self, tag: str, encoded: bytes, shape: tuple[int, ...]) -> None:
        # The PNG already encoded for the file goes to TensorBoard as is (``add_image`` would encode it again).
        if self.tensorboard is not None:
            picture = Summary.Image(height=shape[0], width=shape[1], colorspace=shape[2], encoded_image_string=encoded)
            self.tensorboard._get_file_writer().add_summary(Summary(value=[Summary.Value(tag=tag, image=picture)]), self.step)

    def scalars(self, values: dict[str, float]) -> None:
        """Log scalars to TensorBoard under their full tags."""
        if self.tensorboard is None:
            return
        for tag, value in values.items():
            self.tensorboard.add_scalar(tag, float(value), global_step=self.step)

    # ----- the manifest --------------------------------------------------------------------
    def note(self, **fields: Any) -> None:
        """Add ``fields`` (JSON values) to the moment's ``manifest.json``: what the probe chose at this firing, such as its
        method; the manifest's own keys (probe, moment, step, files, skipped, layers, ...) cannot be replaced."""
        taken = sorted(set(fields) & (set(self.about) | MANIFEST_KEYS))
        if taken:
            raise ValueError(f"manifest keys {taken} are the writer's own")
        self.about.update(fields)

    # ----- closing -------------------------------------------------------------------------
    def mark_complete(self) -> None:
        """Write the manifest, then the marker: the moment is whole (a resumed run will not write it again)."""
        self.wait()
        files = sorted({p.relative_to(self.dir).as_posix() for p in self.written if p.is_relative_to(self.dir)})
        manifest = {**self.about, "probe": self.probe_name, "moment": self.moment, "step": self.step,
                    "files": files, "skipped": self.skipped}
        write_json_atomic(self.dir / MANIFEST_NAME, manifest)
        write_bytes_atomic(self.dir / COMPLETE_MARKER, b"")

    def wait(self) -> None:
        """Wait for the pictures still being written; raise the first error among them."""
        pending, self._pending = self._pending, []
        errors = [job.exception() for job in pending]  # waits for every one, even after an error
        first = next((error for error in errors if error is not None), None)
        if first is not None:
            raise first

    def flush(self) -> None:
        """Finish the pending pictures and flush TensorBoard so the artifacts are visible at once."""
        self.wait()
        if self.tensorboard is not None:
            self.tensorboard.flush()

    def close(self) -> None:
        """Wait for the worker and stop it (errors were raised by ``flush``; a failed firing's are not raised twice)."""
        if self._worker is not None:
            self._worker.shutdown(wait=True)  # every submitted picture finishes first
            self._pending = []
