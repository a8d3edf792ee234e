"""TensorBoard embedding-projector files: tensors, metadata, sprites and a merged config.

Faster than ``SummaryWriter.add_embedding`` (which formats ``tensors.tsv`` one ``.item()`` at a
time) and safer: the sprite is shrunk to fit the projector's 8192 x 8192 limit, and
``projector_config.pbtxt`` is merged with what is already on disk instead of rewritten from memory,
so embeddings from earlier probes, moments or resumed runs stay visible.
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from pathlib import Path
from typing import BinaryIO

import numpy as np
import torch
from google.protobuf import text_format
from PIL import Image
from tensorboard.plugins.projector.projector_config_pb2 import ProjectorConfig

from latent_probe.artifacts.files import atomic_file, write_bytes_atomic, write_text_atomic

CONFIG_NAME = "projector_config.pbtxt"
SPRITE_LIMIT = 8192  # the projector refuses larger sprite images


TSV_CHUNK_ROWS = 4096  # rows formatted at a time: bounds the text held in memory


def write_tensors_tsv(handle: BinaryIO, embeddings: np.ndarray) -> None:
    """Tab-separated rows, 7 significant digits, formatted by numpy in chunks and streamed to ``handle``."""
    embeddings = np.asarray(embeddings, dtype=np.float32)
    for start in range(0, len(embeddings), TSV_CHUNK_ROWS):
        np.savetxt(handle, embeddings[start : start + TSV_CHUNK_ROWS], fmt="%.7g", delimiter="\t")


def tensors_tsv(embeddings: np.ndarray) -> bytes:
    """The ``tensors.tsv`` text of ``embeddings`` as bytes (for small arrays and tests)."""
    buffer = io.BytesIO()
    write_tensors_tsv(buffer, embeddings)
    return buffer.getvalue()


def metadata_tsv(columns: dict[str, Sequence]) -> bytes:
    """A header row and one row per sample (several columns; tabs and newlines in values escaped)."""
    names = list(columns)
    rows = ["\t".join(names)]
    for values in zip(*(columns[name] for name in names)):
        rows.append("\t".join(str(v).replace("\t", " ").replace("\n", " ") for v in values))
    return ("\n".join(rows) + "\n").encode("utf-8")


def sprite_thumbnail_size(count: int, height: int, width: int, limit: int = SPRITE_LIMIT) -> tuple[int, int]:
    """Thumbnail size so that a square grid of ``count`` thumbnails fits in ``limit`` pixels per side."""
    per_side = max(1, math.ceil(math.sqrt(count)))
    scale = min(1.0, limit / (per_side * max(height, width)))
    return max(1, int(height * scale)), max(1, int(width * scale))


def sprite_image(images: torch.Tensor, limit: int = SPRITE_LIMIT) -> tuple[Image.Image, tuple[int, int]]:
    """Tile ``(N, C, H, W)`` images in [0, 1] row-major into one sprite; returns it and the thumbnail size."""
    images = images.detach().float().cpu()
    count, channels, height, width = images.shape
    thumb_h, thumb_w = sprite_thumbnail_size(count, height, width, limit)
    if (thumb_h, thumb_w) != (height, width):
        images = torch.nn.functional.interpolate(images, size=(thumb_h, thumb_w), mode="area")
    per_side = max(1, math.ceil(math.sqrt(count)))
    blank = torch.ones(per_side * per_side - count, channels, thumb_h, thumb_w)
    grid = torch.cat([images, blank]).reshape(per_side, per_side, channels, thumb_h, thumb_w)
    canvas = grid.permute(2, 0, 3, 1, 4).reshape(channels, per_side * thumb_h, per_side * thumb_w)
    array = (canvas.clamp(0, 1).permute(1, 2, 0).numpy() * 255 + 0.5).astype(np.uint8)
    mode = "L" if channels == 1 else "RGB"
    return Image.fromarray(array.squeeze(-1) if channels == 1 else array[..., :3], mode=mode), (thumb_h, thumb_w)


def write_embedding(
    log_dir: str | Path,
    folder: str | Path,
    tensor_name: str,
    embeddings: np.ndarray,
    metadata: dict[str, Sequence] | None = None,
    images: torch.Tensor | None = None,
) -> Path:
    """Write one embedding's files under ``folder`` (relative to ``log_dir``) and merge it into the config."""
    log_dir, folder = Path(log_dir), Path(folder)
    target = log_dir / folder
    with atomic_file(target / "tensors.tsv") as handle:
        write_tensors_tsv(handle, embeddings)
    entry = {"tensor_name": tensor_name, "tensor_path": (folder / "tensors.tsv").as_posix()}
    if metadata:
        write_bytes_atomic(target / "metadata.tsv", metadata_tsv(metadata))
        entry["metadata_path"] = (folder / "metadata.tsv").as_posix()
    config = read_config(log_dir)
    embedding = _replace_embedding(config, tensor_name)
    embedding.tensor_name, embedding.tensor_path = entry["tensor_name"], entry["tensor_path"]
    embedding.tensor_shape.extend(list(np.shape(embeddings)))
    if "metadata_path" in entry:
        embedding.metadata_path = entry["metadata_path"]
    if images is not None:
        sprite, (thumb_h, thumb_w) = sprite_image(images)
        buffer = io.BytesIO()
        sprite.save(buffer, format="PNG")
        write_bytes_atomic(target / "sprite.png", buffer.getvalue())
        embedding.sprite.image_path = (folder / "sprite.png").as_posix()
        embedding.sprite.single_image_dim.extend([thumb_w, thumb_h])
    write_config(log_dir, config)
    return target


def read_config(log_dir: str | Path) -> ProjectorConfig:
    """The run's current projector config (empty if none)."""
    path = Path(log_dir) / CONFIG_NAME
    config = ProjectorConfig()
    if path.is_file():
        text_format.Parse(path.read_text(), config)
    return config


def write_config(log_dir: str | Path, config: ProjectorConfig) -> None:
    """Atomically write the projector config."""
    write_text_atomic(Path(log_dir) / CONFIG_NAME, text_format.MessageToString(config))


def _replace_embedding(config: ProjectorConfig, tensor_name: str):
    kept = [e for e in config.embeddings if e.tensor_name != tensor_name]
    del config.embeddings[:]
    config.embeddings.extend(kept)
    return config.embeddings.add()
