"""What a probe writes at one moment: files in its artifact folder and TensorBoard images/scalars."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from latent_probe.artifacts import COMPLETE_MARKER, moment_dir, write_bytes_atomic, write_json_atomic, write_npz_atomic
from latent_probe.viz.images import gif_bytes, png_bytes, to_hwc_uint8


class MomentWriter:
    """Writes one probe's artifacts for one moment (``<log_dir>/probes/<probe>/<when>/``), atomically.

    ``tensorboard`` is a ``SummaryWriter`` or None (images and scalars then go to files only).
    """

    def __init__(self, log_dir: str | Path, probe_name: str, when: str, step: int, tensorboard=None) -> None:
        self.log_dir = Path(log_dir)
        self.probe_name, self.when, self.step = probe_name, when, step
        self.dir = moment_dir(log_dir, probe_name, when)
        self.tensorboard = tensorboard
        self.written: list[Path] = []

    def path(self, name: str) -> Path:
        """Path of an artifact file in this moment's folder."""
        return self.dir / name

    def _record(self, path: Path) -> Path:
        self.written.append(path)
        return path

    def png(self, name: str, image, tag: str | None = None) -> Path:
        """Write ``image`` (Figure, array or CHW tensor) as ``name``; also to TensorBoard under ``tag``."""
        array = to_hwc_uint8(image)
        if tag:
            self.image(tag, array)
        return self._record(write_bytes_atomic(self.path(name), png_bytes(array)))

    def gif(self, name: str, frames: list, duration_ms: int = 80) -> Path:
        """Write an animated GIF."""
        return self._record(write_bytes_atomic(self.path(name), gif_bytes(frames, duration_ms)))

    def npz(self, name: str, arrays: dict[str, np.ndarray]) -> Path:
        """Write a compressed ``.npz``."""
        return self._record(write_npz_atomic(self.path(name), arrays))

    def json(self, name: str, payload: Any) -> Path:
        """Write JSON."""
        return self._record(write_json_atomic(self.path(name), payload))

    def image(self, tag: str, image) -> None:
        """Log an image to TensorBoard (no file)."""
        if self.tensorboard is not None:
            array = torch.from_numpy(to_hwc_uint8(image))
            self.tensorboard.add_image(tag, array, global_step=self.step, dataformats="HWC")

    def scalars(self, values: dict[str, float]) -> None:
        """Log scalars to TensorBoard under their full tags."""
        if self.tensorboard is None:
            return
        for tag, value in values.items():
            self.tensorboard.add_scalar(tag, float(value), global_step=self.step)

    def mark_complete(self) -> None:
        """Mark the moment as fully written (a resumed run will not write it again)."""
        write_bytes_atomic(self.dir / COMPLETE_MARKER, b"")

    def flush(self) -> None:
        """Flush TensorBoard so the artifacts are visible at once."""
        if self.tensorboard is not None:
            self.tensorboard.flush()
