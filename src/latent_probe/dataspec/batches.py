"""The rule that reads model inputs and labels out of dataset items and batches of any form: ``(x, y, ...)`` tuples,
dicts such as ``{"pixel_values", "labels"}`` (several input keys become keyword arguments), or a bare tensor."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch

from latent_probe.errors import ConfigError

MASK_KEY = "attention_mask"  # the padding mask found in dict batches (Hugging Face's name)
LABEL_KEYS = ("label", "labels", "y", "target", "targets", "class", "class_label")
INPUT_KEYS = ("pixel_values", "input", "inputs", "x", "image", "images", "input_ids", "features")

Key = int | str
Inputs = torch.Tensor | dict[str, torch.Tensor]


@dataclass
class Batch:
    """Model inputs (a tensor, or a dict for ``model(**inputs)``), labels (None when the data has none) and the
    padding mask ``(N, T)`` (1 = a real token; None when the data has none)."""

    inputs: Inputs
    labels: torch.Tensor | None
    mask: torch.Tensor | None = None

    def __len__(self) -> int:
        return batch_size(self.inputs)


def infer_keys(item: Any) -> tuple[Key | tuple[str, ...] | None, Key | None]:
    """``(input_key, label_key)`` of one dataset item: tuples ``(x, y, ...)``, dicts, or a bare tensor."""
    if isinstance(item, Mapping):
        target = next((k for k in LABEL_KEYS if k in item), None)
        label = target if target is not None and _label_like(item[target]) else None  # a per-pixel mask is no class label
        tensors = [k for k, v in item.items() if k != target and isinstance(v, torch.Tensor)]
        named = next((k for k in INPUT_KEYS if k in tensors), None)
        if len(tensors) == 1 or (named is not None and named != "input_ids"):
            return named or tensors[0], label
        if not tensors:
            raise ConfigError(f"cannot tell the model input in dataset items with keys {list(item)}. HINT: set data_spec.input_key")
        return tuple(tensors), label
    if isinstance(item, (tuple, list)):
        if not item:
            raise ConfigError("dataset items are empty tuples. HINT: set data_spec.input_key")
        return 0, (1 if len(item) >= 2 and _label_like(item[1]) else None)
    return None, None


def infer_mask_key(batch: Any) -> str | None:
    """The padding mask's key in a collated batch: ``attention_mask`` when a dict batch has one, else None."""
    return MASK_KEY if isinstance(batch, Mapping) and MASK_KEY in batch else None


def split_batch(batch: Any, input_key: Key | tuple[str, ...] | None, label_key: Key | None, mask_key: str | None = None) -> Batch:
    """The one batch rule: inputs, labels and padding mask of a collated batch at the given keys (None: no such part;
    an ``input_key`` of None: the batch *is* the input)."""
    inputs = batch if input_key is None else take_inputs(batch, input_key)
    labels = None if label_key is None else torch.as_tensor(take(batch, label_key))
    mask = torch.as_tensor(take(batch, mask_key)) if isinstance(mask_key, str) else None
    return Batch(inputs, labels, mask)


def batch_parts(batch: Any) -> Batch:
    """Inputs, labels and mask of a collated batch by the inference rule (``(x, y, ...)``, a dict with a label key, a tensor).

    The same rule that ``build_data_spec`` infers a spec's keys by; models without the run's ``DataSpec``
    (``Classifier``) split their batches with it.
    """
    return split_batch(batch, *infer_keys(batch), infer_mask_key(batch))


def _label_like(value: Any) -> bool:
    if isinstance(value, torch.Tensor):
        return value.dim() <= 1
    return isinstance(value, (int, float)) or hasattr(value, "__index__")


def take(batch: Any, key: Key) -> Any:
    """The field ``key`` (a position or a dict key) of an item or batch; a missing key is a ``ConfigError``."""
    try:
        return batch[key]
    except (KeyError, IndexError, TypeError):
        where = type(batch).__name__
        if isinstance(batch, (Mapping, tuple, list)):
            where = f"keys {list(batch)}" if isinstance(batch, Mapping) else f"{len(batch)} fields"
        raise ConfigError(f"data_spec key {key!r} is not in the data's items ({where}). "
                          "HINT: set data_spec.input_key / label_key") from None


def take_inputs(batch: Any, key: Key | tuple[str, ...]) -> Inputs:
    """The model input at ``key``: one field, or a dict of several (for ``model(**inputs)``)."""
    if isinstance(key, tuple):
        return {name: take(batch, name) for name in key}
    return take(batch, key)


def is_stacked(batch: Any, size: int) -> bool:
    """Whether ``__getitems__`` already returned a stacked batch (a tuple of tensors with ``size`` rows)."""
    rows = [isinstance(t, torch.Tensor) and t.dim() >= 1 and len(t) == size for t in batch] if isinstance(batch, tuple) else []
    return bool(rows) and all(rows)


def batch_size(inputs: Inputs) -> int:
    """Samples in a batch of inputs."""
    return len(next(iter(inputs.values()))) if isinstance(inputs, dict) else len(inputs)


def to_device(inputs: Inputs, device: torch.device, dtype: torch.dtype | None = None) -> Inputs:
    """Inputs on ``device`` (floating tensors also cast to ``dtype`` when given)."""
    def move(t: torch.Tensor) -> torch.Tensor:
        return t.to(device, dtype) if dtype is not None and t.is_floating_point() else t.to(device)

    return {k: move(v) for k, v in inputs.items()} if isinstance(inputs, dict) else move(inputs)
