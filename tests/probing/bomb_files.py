"""Tiny input files that declare huge contents: a PNG whose header claims any pixel size, an .npy header of any shape
(the archives and checkpoints of the weights loaders are in ``helpers.bombs``)."""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

from helpers.bombs import npy_header
from PIL import Image


def png_declaring(path: Path, width: int, height: int) -> Path:
    """A valid 8x8 grey PNG of under 100 bytes whose header (IHDR, CRC fixed) declares ``width`` x ``height`` pixels."""
    buffer = io.BytesIO()
    Image.new("L", (8, 8)).save(buffer, format="PNG")
    data = bytearray(buffer.getvalue())
    data[16:24] = struct.pack(">II", width, height)  # after the signature (8), IHDR's length (4) and type (4)
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(data[12:29])))
    path.write_bytes(bytes(data))
    return path


def npy_declaring(path: Path, shape: tuple[int, ...], descr: str = "<f4") -> Path:
    """An .npy file of a header alone, which declares an array of ``shape`` (float32 by default) and holds no data."""
    path.write_bytes(npy_header(shape, descr))
    return path
