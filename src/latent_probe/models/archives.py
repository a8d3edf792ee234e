"""What a weights or checkpoint file would take in memory once read, measured before anything is decompressed.

A 3 MB ``.npz`` (a zip) can hold a member that inflates to 3 GB of zeros, and a 200-byte ``.npy`` header can declare a
shape of billions (numpy allocates the declared shape before reading). So the sizes the file *declares* are checked
against a cap first: each zip member's uncompressed size (``.npz`` and torch's own zip format), each ``.npy`` header's
shape against its member, a ``.safetensors`` header's length and offsets against the file. torch itself checks that
each storage's record holds the bytes its pickle declares, so its members' sizes bound what it reads.
"""

from __future__ import annotations

import json
import math
import os
import zipfile
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import BinaryIO

import numpy as np
import torch

from latent_probe.errors import ConfigError, format_bytes

MiB = 2**20
FILE_RATIO, FILE_FLOOR = 16, 256 * MiB  # torch and np.savez store members uncompressed: a real file expands ~1x
MODEL_FACTOR, MODEL_SLACK = 4, 64 * MiB  # room for optimizer state, EMA or float64 copies next to the weights
SAFETENSORS_MAX_HEADER = 100 * MiB  # the safetensors library's own limit
NPY_MAX_HEADER = 10_000  # numpy's default max_header_size


@dataclass(frozen=True)
class SizeLimit:
    """The most bytes a file may take once read, and why (said in the error)."""

    bytes: int
    reason: str


def file_limit(size: int) -> SizeLimit:
    """The cap when no model is known yet (a checkpoint is read before the model is built): 16x the file, >= 256 MiB."""
    return SizeLimit(max(FILE_RATIO * size, FILE_FLOOR),
                     f"{FILE_RATIO}x its {format_bytes(size)} on disk, at least {format_bytes(FILE_FLOOR)}")


def model_limit(tensors: Iterable[torch.Tensor], name: str) -> SizeLimit:
    """The cap for weights of a model: 4x its parameters and buffers, plus 64 MiB."""
    own = sum(tensor.numel() * tensor.element_size() for tensor in tensors)
    return SizeLimit(MODEL_FACTOR * own + MODEL_SLACK,
                     f"{MODEL_FACTOR}x the {format_bytes(own)} of parameters and buffers of {name}, plus {format_bytes(MODEL_SLACK)}")


def check_expansion(file: BinaryIO, suffix: str, what: str, limit: SizeLimit) -> None:
    """Raise ``ConfigError`` when ``file`` declares more than ``limit`` bytes once read; leaves it at offset 0."""
    size = os.fstat(file.fileno()).st_size
    if suffix == ".safetensors":
        _within(_safetensors_bytes(file, size, what), size, what, limit)
    elif zipfile.is_zipfile(file):
        _check_zip(file, size, what, limit, npy=suffix == ".npz")
    else:
        _within(size, size, what, limit)
    file.seek(0)


def _within(expanded: int, size: int, what: str, limit: SizeLimit) -> None:
    if expanded > limit.bytes:
        raise ConfigError(f"{what} would take {format_bytes(expanded)} once read ({format_bytes(size)} on disk), over the cap of "
                          f"{format_bytes(limit.bytes)} ({limit.reason}); refused before decompressing anything")


def _check_zip(file: BinaryIO, size: int, what: str, limit: SizeLimit, npy: bool) -> None:
    """The members' declared uncompressed sizes, summed, within ``limit``; with ``npy``, each header fits its member."""
    file.seek(0)
    try:
        with zipfile.ZipFile(file) as archive:
            members = archive.infolist()
            _within(sum(member.file_size for member in members), size, what, limit)  # before any member is opened
            for member in members if npy else ():
                _check_npy_member(archive, member, what)
    except (zipfile.BadZipFile, zlib.error, OSError, EOFError, NotImplementedError) as error:
        raise ConfigError(f"{what} is not a readable zip archive: {str(error)[:200]}") from None


def _check_npy_member(archive: zipfile.ZipFile, member: zipfile.ZipInfo, what: str) -> None:
    """An ``.npy`` member's header must declare no more data than the member holds (numpy allocates the declared shape)."""
    with archive.open(member) as stream:
        try:
            version = np.lib.format.read_magic(stream)
            read_header = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
            shape, _, dtype = read_header(stream, max_header_size=NPY_MAX_HEADER)
            header = stream.tell()
        except ValueError as error:
            raise ConfigError(f"{what}: member {member.filename!r} is not a .npy array ({str(error)[:120]})") from None
    declared = math.prod(shape) * dtype.itemsize
    if declared > member.file_size - header:
        raise ConfigError(f"{what}: member {member.filename!r} declares shape {shape} of {dtype} ({format_bytes(declared)}) "
                          f"but holds {format_bytes(member.file_size - header)}")


def _safetensors_bytes(file: BinaryIO, size: int, what: str) -> int:
    """The tensor bytes a ``.safetensors`` header declares, after checking its length and every offset against the file."""
    length = int.from_bytes(file.read(8), "little")
    if size < 8 or length > min(size - 8, SAFETENSORS_MAX_HEADER):
        raise ConfigError(f"{what} is not a .safetensors file: its header declares {length:,} bytes, the file holds {size:,}")
    data = size - 8 - length
    try:
        header = json.loads(file.read(length))
    except (ValueError, RecursionError) as error:  # RecursionError: a header nested deeper than json can recurse
        raise ConfigError(f"{what} is not a .safetensors file: its header is not JSON ({type(error).__name__})") from None
    if not isinstance(header, dict):
        raise ConfigError(f"{what} is not a .safetensors file: its header is not a mapping of tensors")
    tensors = {key: entry for key, entry in header.items() if key != "__metadata__"}
    for key, entry in tensors.items():
        offsets = entry.get("data_offsets") if isinstance(entry, dict) else None
        if not (isinstance(offsets, list) and len(offsets) == 2 and all(type(o) is int for o in offsets)
                and 0 <= offsets[0] <= offsets[1] <= data):
            raise ConfigError(f"{what}: tensor {key!r} has data_offsets {offsets!r} outside the file's {data:,} data bytes")
    return sum(entry["data_offsets"][1] - entry["data_offsets"][0] for entry in tensors.values())
