"""TensorBoard embedding-projector files: tensors, metadata, sprites and a merged config.

Faster than ``SummaryWriter.add_embedding`` (which formats ``tensors.tsv`` one ``.item()`` at a
time): the tensor is written as raw float32 bytes (``tensors.bytes``, which TensorBoard reads with
``tensor_shape`` from the config) unless those bytes would be mistaken for text, then as TSV. Safer
too: the sprite is shrunk to fit the projector's 8192 x 8192 limit, and ``projector_config.pbtxt``
is merged with what is already on disk instead of rewritten from memory, so embeddings from earlier
probes, moments or resumed runs stay visible.
"""

from __future__ import annotations

import codecs
import io
import math
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import BinaryIO, Literal

import numpy as np
import torch
from google.protobuf import text_format
from PIL import Image
from tensorboard.plugins.projector.projector_config_pb2 import ProjectorConfig

from latent_probe.artifacts.encoding import PNG_OPTIONS
from latent_probe.artifacts.files import atomic_file, write_bytes_atomic, write_text_atomic
from latent_probe.errors import require_choice

CONFIG_NAME = "projector_config.pbtxt"
SPRITE_LIMIT = 8192  # the projector refuses larger sprite images
TENSOR_FORMATS = ("binary", "tsv")
TENSOR_FILES = {"binary": "tensors.bytes", "tsv": "tensors.tsv"}
# TensorBoard without TensorFlow (its gfile stub) decodes a tensor file as UTF-8 text in blocks of
# this many characters before parsing any line; a decoding error inside the first block is what
# makes it read the file as binary (tensorboard/compat/tensorflow_stub/io/gfile.py).
TENSORBOARD_TEXT_BLOCK = 16 * 1024 * 1024
BINARY_CHUNK_BYTES = 16 * 1024 * 1024  # rows converted and written at a time when the input is not float32


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


def float32_blocks(embeddings: np.ndarray) -> Iterator[memoryview]:
    """Little-endian float32 bytes of ``(rows, dim)`` embeddings, a block of rows at a time, without copying float32 input."""
    embeddings = np.asarray(embeddings)
    rows = max(1, BINARY_CHUNK_BYTES // max(1, 4 * math.prod(embeddings.shape[1:])))
    for start in range(0, len(embeddings), rows):
        # "<f4" is what the projector reads (np.fromfile with float32 on little-endian machines); a
        # C-contiguous float32 block is a view, anything else is converted one block at a time.
        block = np.ascontiguousarray(embeddings[start : start + rows], dtype="<f4")
        yield memoryview(block).cast("B")


def tensorboard_reads_as_binary(payload: bytes | memoryview) -> bool:
    """Whether TensorBoard's projector reads these raw float32 bytes as binary rather than mistaking them for TSV.

    The plugin (``_serve_tensor`` and ``_augment_configs_with_checkpoint_info``) always tries
    ``_read_tensor_tsv_file`` first and falls back to ``_read_tensor_binary_file`` only on a
    ``UnicodeDecodeError``. Without TensorFlow the file is decoded block by block
    (``TENSORBOARD_TEXT_BLOCK`` characters) before a line is parsed; with TensorFlow it is decoded
    line by line (lines end at ``\\n``) and each line is parsed before the next is decoded, so a
    line that decodes but is no number fails with a ``ValueError`` and no fallback. Binary is safe
    under both when an invalid UTF-8 sequence comes before the first ``\\n`` and within the first block.
    """
    payload = memoryview(payload).cast("B")
    # Random floats hit an invalid sequence within a few bytes, so a small window usually decides;
    # a newline in it with no invalid sequence before means text to TensorFlow's line reader.
    small = payload[:4096]
    invalid_at = _first_invalid_utf8(small)
    if invalid_at is None:
        if len(small) == len(payload) or b"\n" in small.tobytes():
            return False
        invalid_at = _first_invalid_utf8(payload[:TENSORBOARD_TEXT_BLOCK])
        if invalid_at is None:
            return False
    return b"\n" not in payload[:invalid_at].tobytes()


def _first_invalid_utf8(data: memoryview) -> int | None:
    try:
        codecs.utf_8_decode(data, "strict", False)  # final=False: a sequence cut at the end of ``data`` is no error
    except UnicodeDecodeError as error:
        return error.start
    return None


def write_tensors_binary(handle: BinaryIO, embeddings: np.ndarray) -> None:
    """Raw little-endian float32 rows, streamed to ``handle`` a block at a time."""
    for block in float32_blocks(embeddings):
        handle.write(block)


def metadata_tsv(columns: dict[str, Sequence]) -> bytes:
    """A header row (several columns only: TensorBoard reads a lone column as values, no header) and one row per sample
    (tabs and newlines in values escaped)."""
    names = list(columns)
    rows = ["\t".join(names)] if len(names) > 1 else []
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
    images = images.detach().cpu()
    count, channels, height, width = images.shape
    thumb_h, thumb_w = sprite_thumbnail_size(count, height, width, limit)
    if (thumb_h, thumb_w) != (height, width):
        images = torch.nn.functional.interpolate(images.float(), size=(thumb_h, thumb_w), mode="area")
    per_side = max(1, math.ceil(math.sqrt(count)))
    grid = np.full((per_side * per_side, channels, thumb_h, thumb_w), 255, dtype=np.uint8)  # blank cells are white
    # Quantize straight into the uint8 grid (the float -> uint8 copy truncates, hence + 0.5): one float
    # temporary instead of three, and the tiling below moves a quarter of the float bytes.
    torch.from_numpy(grid)[:count] = images.float().clamp(0, 1).mul_(255).add_(0.5)
    canvas = grid.reshape(per_side, per_side, channels, thumb_h, thumb_w).transpose(0, 3, 1, 4, 2)
    canvas = canvas.reshape(per_side * thumb_h, per_side * thumb_w, channels)
    mode = "L" if channels == 1 else "RGB"
    return Image.fromarray(canvas[..., 0] if channels == 1 else np.ascontiguousarray(canvas[..., :3]), mode=mode), (
        thumb_h, thumb_w)


def write_embedding(
    log_dir: str | Path,
    folder: str | Path,
    tensor_name: str,
    embeddings: np.ndarray,
    metadata: dict[str, Sequence] | None = None,
    images: torch.Tensor | None = None,
    tensor_format: Literal["binary", "tsv"] = "binary",
) -> Path:
    """Write one embedding's files under ``folder`` (relative to ``log_dir``) and merge it into the config.

    ``tensor_format="binary"`` writes ``tensors.bytes`` (raw float32) unless TensorBoard would read
    those bytes as text (see ``tensorboard_reads_as_binary``), then ``tensors.tsv``, as ``"tsv"`` always does.
    """
    require_choice("tensor_format", tensor_format, TENSOR_FORMATS)
    if np.ndim(embeddings) != 2:
        raise ValueError(f"embeddings must be 2-D (rows, dim), got shape {np.shape(embeddings)}")
    log_dir, folder = Path(log_dir), Path(folder)
    target = log_dir / folder
    if tensor_format == "binary":
        first = next(float32_blocks(embeddings), b"")
        if not tensorboard_reads_as_binary(first):
            tensor_format = "tsv"  # TensorBoard would parse these bytes as TSV text (all zeros, say)
    tensor_file = TENSOR_FILES[tensor_format]
    with atomic_file(target / tensor_file) as handle:
        (write_tensors_binary if tensor_format == "binary" else write_tensors_tsv)(handle, embeddings)
    entry = {"tensor_name": tensor_name, "tensor_path": (folder / tensor_file).as_posix()}
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
        sprite.save(buffer, format="PNG", **PNG_OPTIONS)  # on 8,000 MNIST digits 2.8x faster than level 6, 3% smaller
        write_bytes_atomic(target / "sprite.png", buffer.getvalue())
        embedding.sprite.image_path = (folder / "sprite.png").as_posix()
        embedding.sprite.single_image_dim.extend([thumb_w, thumb_h])
    write_config(log_dir, config)
    for name in set(TENSOR_FILES.values()) - {tensor_file}:
        (target / name).unlink(missing_ok=True)  # a rewrite in the other format leaves no stale tensor file
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
