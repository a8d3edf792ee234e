"""Decompression bombs for the loaders, written in seconds with little memory: a zip member of gigabytes of zeros is
one deflate block repeated (after a full flush, equal input compresses to equal bytes), written into a zip by hand."""

from __future__ import annotations

import io
import struct
import zipfile
import zlib
from pathlib import Path

import numpy as np
import torch

GiB = 2**30
_CHUNK = 2**24  # 16 MiB of zeros deflate to ~16 KB
_STORED, _DEFLATED = 0, 8


def npy_header(shape: tuple[int, ...], descr: str = "<f4") -> bytes:
    """The header of an ``.npy`` file of ``shape`` (its data follows)."""
    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(buffer, {"descr": descr, "fortran_order": False, "shape": shape})
    return buffer.getvalue()


def deflated_zeros(head: bytes, size: int) -> tuple[bytes, int]:
    """A raw deflate stream of ``head`` then zeros, ``size`` bytes in all (a multiple of 16 MiB), and its CRC-32."""
    assert size % _CHUNK == 0 and len(head) < _CHUNK
    first = head + bytes(_CHUNK - len(head))
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    stream = [compressor.compress(first) + compressor.flush(zlib.Z_FULL_FLUSH)]
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    block = compressor.compress(bytes(_CHUNK)) + compressor.flush(zlib.Z_FULL_FLUSH)
    crc, zeros = zlib.crc32(first), bytes(_CHUNK)
    for _ in range(size // _CHUNK - 1):
        stream.append(block)
        crc = zlib.crc32(zeros, crc)
    stream.append(zlib.compressobj(9, zlib.DEFLATED, -15).flush())  # the final (empty) block
    return b"".join(stream), crc


def write_zip(path: Path, members: list[tuple[str, bytes, int, int, bool]]) -> None:
    """A zip of ``(name, data, crc, size, deflated)`` members, the data already compressed when ``deflated``."""
    out, central = bytearray(), bytearray()
    for name, data, crc, size, deflated in members:
        encoded, method, offset = name.encode(), _DEFLATED if deflated else _STORED, len(out)
        out += struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, method, 0, 0x21, crc, len(data), size, len(encoded), 0)
        out += encoded + data
        central += struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, 0, method, 0, 0x21, crc, len(data), size,
                               len(encoded), 0, 0, 0, 0, 0, offset) + encoded
    end = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, len(members), len(members), len(central), len(out), 0)
    path.write_bytes(bytes(out + central + end))


def npz_bomb(path: Path, size: int = 3 * GiB) -> Path:
    """An ``.npz`` of ~3 MB whose ``W1.npy`` really inflates to ``size`` bytes of float32 zeros."""
    header = npy_header(((size - 128) // 4,))
    assert len(header) == 128
    data, crc = deflated_zeros(header, size)
    write_zip(path, [("W1.npy", data, crc, size, True)])
    return path


def npz_header_lie(path: Path, shape: tuple[int, ...] = (3 * GiB // 4,)) -> Path:
    """A 250-byte ``.npz`` whose ``W1.npy`` header declares ``shape`` (3 GiB of float32) and holds 16 bytes."""
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("W1.npy", npy_header(shape) + bytes(16))
    return path


def torch_zip_bomb(path: Path, size: int = 3 * GiB) -> Path:
    """A ~3 MB torch checkpoint ``{"state_dict": {"w": zeros}}`` whose one storage record inflates to ``size`` bytes."""
    buffer = io.BytesIO()
    torch.save({"state_dict": {"w": torch.zeros(7)}}, buffer)
    members = []
    with zipfile.ZipFile(buffer) as archive:
        for info in archive.infolist():
            data = archive.read(info)
            if info.filename.endswith("/data.pkl"):  # the storage's numel and the tensor's size: 7 -> size / 4
                assert data.count(b"K\x07") == 2
                data = data.replace(b"K\x07", b"J" + struct.pack("<i", size // 4))
                members.append((info.filename, data, zlib.crc32(data), len(data), False))
            elif info.filename.endswith("/data/0"):
                members.append((info.filename, *deflated_zeros(b"", size), size, True))
            else:
                members.append((info.filename, data, info.CRC, info.file_size, False))
    write_zip(path, members)
    return path


def safetensors_file(path: Path, header: bytes, data: bytes = b"", declared: int | None = None) -> Path:
    """A ``.safetensors`` file of ``header`` (JSON) and ``data``; ``declared`` overrides the header length it states."""
    path.write_bytes(struct.pack("<Q", len(header) if declared is None else declared) + header + data)
    return path
