"""Dense-layer weights from outside PyTorch: ``W1, b1, W2, b2, ...`` in the ``y = x·W + b`` layout.

``W{i}`` has shape ``(in, out)`` (the transpose of ``nn.Linear.weight``) and ``b{i}`` shape ``(out,)``, as in
"Deep Learning from Scratch"'s ``sample_weight.pkl``. Files are ``.npz`` (read with ``allow_pickle=False``)
or ``.safetensors``; nothing is ever unpickled. To use a pickle you trust, convert it once yourself:
``np.savez("w.npz", **{k: np.asarray(v) for k, v in pickle.load(f).items()})``.
"""

from __future__ import annotations

import io
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import safetensors.numpy
import torch
from torch import nn

from latent_probe.errors import ConfigError, require_choice
from latent_probe.models.archives import SizeLimit, model_limit
from latent_probe.models.weights import check_finite, read_tensors

FORMATS = (".npz", ".safetensors")


def weight_format(path: str | os.PathLike) -> str:
    """The file's format from its suffix: ``.npz`` or ``.safetensors``."""
    suffix = Path(path).suffix.lower()
    require_choice("weights file format", suffix or str(path), FORMATS)
    return suffix


def read_arrays(path: str | os.PathLike, limit: SizeLimit | None = None) -> dict[str, np.ndarray]:
    """Every array of an ``.npz`` or ``.safetensors`` file, by key (read by the generic ``weights.read_tensors``)."""
    weight_format(path)
    return {key: tensor.numpy() for key, tensor in read_tensors(path, limit).items()}


def write_arrays(path: str | os.PathLike, arrays: dict[str, np.ndarray]) -> None:
    """Write ``arrays`` as ``.npz`` or ``.safetensors`` (by suffix), atomically (temp file + rename)."""
    suffix = weight_format(path)
    contiguous = {key: np.ascontiguousarray(value) for key, value in arrays.items()}
    if suffix == ".safetensors":
        data = safetensors.numpy.save(contiguous)
    else:
        buffer = io.BytesIO()
        np.savez(buffer, **contiguous)
        data = buffer.getvalue()
    temporary = Path(f"{path}.tmp")
    temporary.write_bytes(data)
    os.replace(temporary, path)


def expected_shapes(linears: Sequence[nn.Linear]) -> dict[str, tuple[int, ...]]:
    """``{"W1": (in, out), "b1": (out,), ...}`` for the given layers, in order."""
    shapes: dict[str, tuple[int, ...]] = {}
    for i, linear in enumerate(linears, start=1):
        shapes[f"W{i}"] = (linear.in_features, linear.out_features)
        shapes[f"b{i}"] = (linear.out_features,)
    return shapes


def check_arrays(arrays: dict[str, np.ndarray], linears: Sequence[nn.Linear], source: str) -> None:
    """Raise ``ConfigError`` naming the first missing or unexpected key or wrong shape."""
    expected = expected_shapes(linears)
    keys = ", ".join(expected)
    hint = "HINT: hidden_sizes and in_features must match the file"
    for key in expected:
        if key not in arrays:
            raise ConfigError(f"weights file {source!r}: missing key {key!r} (expected keys {keys}). {hint}")
    for key in arrays:
        if key not in expected:
            raise ConfigError(f"weights file {source!r}: unexpected key {key!r} (expected keys {keys}). {hint}")
    for key, shape in expected.items():
        got = tuple(arrays[key].shape)
        if got != shape:
            raise ConfigError(
                f"weights file {source!r}: key {key!r} has shape {got}, expected {shape} "
                f"(W is in x out: y = x·W + b). {hint}"
            )


def load_dense_weights(linears: Sequence[nn.Linear], path: str | os.PathLike) -> None:
    """Copy ``W{i}``/``b{i}`` of the file at ``path`` into ``linears[i - 1]``, after checking every key and shape."""
    arrays = read_arrays(path, model_limit([p for linear in linears for p in linear.parameters()], "the dense layers"))
    check_arrays(arrays, linears, str(path))
    check_finite({key: torch.from_numpy(value) for key, value in arrays.items()}, {}, f"weights file {str(path)!r}")
    with torch.no_grad():
        for i, linear in enumerate(linears, start=1):
            linear.weight.copy_(torch.from_numpy(np.asarray(arrays[f"W{i}"], dtype=np.float32)).t())
            linear.bias.copy_(torch.from_numpy(np.asarray(arrays[f"b{i}"], dtype=np.float32)))


def dense_weights(linears: Sequence[nn.Linear]) -> dict[str, np.ndarray]:
    """The layers' parameters as ``{"W1": (in, out), "b1": (out,), ...}`` float32 arrays."""
    arrays: dict[str, np.ndarray] = {}
    for i, linear in enumerate(linears, start=1):
        arrays[f"W{i}"] = linear.weight.detach().cpu().t().numpy().astype(np.float32)
        arrays[f"b{i}"] = linear.bias.detach().cpu().numpy().astype(np.float32)
    return arrays


def save_dense_weights(linears: Sequence[nn.Linear], path: str | os.PathLike) -> None:
    """Write the layers' parameters to ``path`` (``.npz`` or ``.safetensors``) in the ``W{i}, b{i}`` layout."""
    write_arrays(path, dense_weights(linears))
