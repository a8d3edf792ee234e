"""The data contract of a run, below the probing engine: how inputs, labels and shapes are read from any data and
how the model is called. Models, datamodules and probes all read the data through it.

- ``spec.py``: ``DataSpec`` (the frozen value) and ``Normalization``;
- ``batches.py``: the one batch rule (``infer_keys``, ``split_batch``, ``batch_parts``, ``Batch``);
- ``overrides.py``: the config's ``data_spec:`` key (``DataSpecOverrides``) and its checks;
- ``inference.py``: ``build_data_spec``, the only reader of datamodules and trainers' dataloaders;
- ``normalize_lookup.py``: the ``mean``/``std`` of a torchvision ``Normalize`` in a dataset's transform.
"""

from latent_probe.dataspec.batches import MASK_KEY, Batch, Inputs, batch_parts, infer_keys, split_batch, to_device
from latent_probe.dataspec.inference import build_data_spec, data_readable_at_setup, declared_classes, own_collate
from latent_probe.dataspec.overrides import NO_LABELS, DataSpecOverrides, apply_overrides
from latent_probe.dataspec.spec import INFER, SPLITS, DataSpec, Normalization

__all__ = [
    "INFER",
    "MASK_KEY",
    "NO_LABELS",
    "SPLITS",
    "Batch",
    "DataSpec",
    "DataSpecOverrides",
    "Inputs",
    "Normalization",
    "apply_overrides",
    "batch_parts",
    "build_data_spec",
    "data_readable_at_setup",
    "declared_classes",
    "infer_keys",
    "own_collate",
    "split_batch",
    "to_device",
]
