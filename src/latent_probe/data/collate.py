"""A padding ``collate_fn`` for dict items of variable-length token ids: pads to the longest item, adds ``attention_mask``.

Name it in a config as ``DatasetDataModule(collate_fn=pad_sequences)`` (or by its import path
``latent_probe.data.collate.pad_sequences``, or ``{class_path: latent_probe.data.collate.PadSequences,
init_args: {pad_id: 1}}`` for another pad token). The probes batch their samples with the same collate.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import torch
from torch.utils.data import default_collate

from latent_probe.errors import ConfigError

MASK_KEY = "attention_mask"
LABEL_PAD = -100  # variable-length labels (one per token) are padded as Hugging Face's losses ignore them


class PadSequences:
    """Collate dict items whose tensors may differ in length along their first dimension: pad each to the longest with
    ``pad_id`` (``labels`` with -100) and add ``attention_mask`` (1 for real tokens, 0 for padding) when the items have
    none, from the lengths of ``input_ids`` (else of the first sequence). Scalars (a class label) are stacked."""

    def __init__(self, pad_id: int = 0, mask_key: str = MASK_KEY) -> None:
        self.pad_id, self.mask_key = pad_id, mask_key

    def __call__(self, items: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
        """One batch of ``items``: sequences padded, the rest stacked by ``default_collate``."""
        if not items or not all(isinstance(item, Mapping) for item in items):
            raise ConfigError(f"pad_sequences collates dict items (e.g. {{'input_ids': ..., 'labels': ...}}), got "
                              f"{type(items[0]).__name__ if items else 'no items'}. HINT: give the dataset dict items")
        keys = list(items[0])
        sequences = [key for key in keys if torch.as_tensor(items[0][key]).dim() >= 1]
        batch = {key: default_collate([item[key] for item in items]) for key in keys if key not in sequences}
        for key in sequences:
            batch[key] = _padded([torch.as_tensor(item[key]) for item in items], LABEL_PAD if key == "labels" else self.pad_id)
        if sequences and self.mask_key not in batch:  # a one-item batch gets its mask too: the probes infer keys from one
            tokens = "input_ids" if "input_ids" in sequences else sequences[0]
            lengths = torch.tensor([len(item[tokens]) for item in items])
            batch[self.mask_key] = (torch.arange(batch[tokens].shape[1]) < lengths[:, None]).long()
        return batch

    def __repr__(self) -> str:
        return f"PadSequences(pad_id={self.pad_id})"


def _padded(tensors: list[torch.Tensor], value: int) -> torch.Tensor:
    return torch.nn.utils.rnn.pad_sequence(tensors, batch_first=True, padding_value=value)


pad_sequences = PadSequences()
COLLATES: dict[str, Callable] = {"pad_sequences": pad_sequences}  # names a config may give for DatasetDataModule.collate_fn


def named_collate(collate_fn: Callable | str | None) -> Callable | None:
    """The collate a config gave: a callable, a registered name (``pad_sequences``) or None (torch's default)."""
    if collate_fn is None or callable(collate_fn):
        return collate_fn
    if collate_fn in COLLATES:
        return COLLATES[collate_fn]
    module, _, name = collate_fn.rpartition(".")
    found = getattr(importlib.import_module(module), name, None) if module else None
    if callable(found):
        return found
    raise ConfigError(f"collate_fn {collate_fn!r} is not a callable or one of {sorted(COLLATES)}. "
                      "HINT: give an import path (latent_probe.data.collate.pad_sequences) or a registered name")
