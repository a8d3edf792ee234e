"""Building a run's ``DataSpec``: the only code that looks at a datamodule or a trainer's data.

A registered datamodule gives its spec through its ``data_spec()`` method; any other datamodule (or a trainer
with plain dataloaders) gets one by inference from its first item; the config's top-level ``data_spec:`` key
(``DataSpecOverrides``) corrects either. Inference happens here, once, before the spec is returned: the spec
the probes and models read is complete and frozen.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

import pytorch_lightning as pl
import torch
from torch.utils.data import Dataset, default_collate, default_convert

from latent_probe.dataspec.batches import infer_keys, infer_mask_key
from latent_probe.dataspec.normalize_lookup import normalize_in
from latent_probe.dataspec.overrides import DataSpecOverrides, apply_overrides
from latent_probe.dataspec.spec import INFER, INFERRED_KEYS, DataSpec, Normalization
from latent_probe.errors import ConfigError

INFERENCE_ORDER = ("val", "train", "test")  # the split whose first item keys, shapes and classes are read from


def build_data_spec(datamodule: Any = None, trainer: Any = None, overrides: DataSpecOverrides | Mapping | None = None) -> DataSpec:
    """The run's complete ``DataSpec``: the datamodule's own ``data_spec()``, else one inferred from the first item of
    its data, corrected by ``overrides`` (which are never re-inferred) and checked against the data.

    A trainer's plain dataloaders exist only once Lightning loaded them (after the ``setup`` hooks): call this
    then (``data_readable_at_setup`` tells which case a trainer is).
    """
    base = _base_spec(datamodule, trainer)
    spec = apply_overrides(base, overrides)
    # a base with keys to infer reads its first item even when the config gave every key: shapes, classes, collate
    if any(getattr(base, key) is INFER for key in INFERRED_KEYS):
        spec = _inferred(spec)
    spec.check_given()
    return spec


def data_readable_at_setup(trainer: Any) -> bool:
    """Whether ``build_data_spec(trainer=trainer)`` can read the data in Lightning's ``setup`` hook: with a datamodule
    yes; plain dataloaders only once Lightning loaded them (at the first probe firing)."""
    return getattr(trainer, "datamodule", None) is not None


def declared_classes(owner: Any) -> int | None:
    """The number of classes a datamodule (``num_classes``) or a model (its ``num_classes`` hyperparameter) says it has."""
    hparams = getattr(owner, "hparams", None)
    count = getattr(owner, "num_classes", None) or (hparams.get("num_classes") if isinstance(hparams, Mapping) else None)
    return count if isinstance(count, int) and not isinstance(count, bool) and count > 0 else None


def own_collate(loader: Any) -> Callable | None:
    """A DataLoader's ``collate_fn`` unless it is torch's default (which the probes use anyway)."""
    collate = getattr(loader, "collate_fn", None)
    return None if collate in (None, default_collate, default_convert) else collate


# ----- where a spec starts ---------------------------------------------------------------------
def _base_spec(datamodule: Any, trainer: Any) -> DataSpec:
    """The datamodule's own spec, or one of its (or the trainer's) dataloaders with every key still to infer."""
    datamodule = datamodule if datamodule is not None else getattr(trainer, "datamodule", None)
    own = getattr(datamodule, "data_spec", None)
    if callable(own):
        spec = own()
        classes = spec.num_classes or declared_classes(datamodule) or (len(spec.class_names) if spec.class_names else None)
        return replace(spec, num_classes=classes)
    if datamodule is not None:
        return DataSpec(_datamodule_datasets(datamodule), INFER, INFER, source=type(datamodule).__name__, mask_key=INFER)
    if trainer is not None:
        return DataSpec(_trainer_datasets(trainer), INFER, INFER, source="the trainer's dataloaders", mask_key=INFER)
    return DataSpec(datasets=_no_data, source="no data")


def _no_data(split: str) -> Dataset:
    raise ConfigError(f"the probes read the {split!r} split, but the run has no datamodule or dataloaders. HINT: set `data:` in the config")


# ----- inference ---------------------------------------------------------------------------------
def _inferred(spec: DataSpec) -> DataSpec:
    """``spec`` with what it leaves unknown read from the first item of the first split that exists."""
    split, dataset = _first_split(spec)
    # the loader's own collate becomes the spec's (the config's or the datamodule's, when given, win)
    spec = replace(spec, collate_fn=spec.collate_fn or getattr(spec.datasets, "collate_fn", None))
    if len(dataset) == 0:  # type: ignore[arg-type]
        raise ConfigError(f"the {split!r} split of {spec.source} is empty")
    item = dataset[0]
    batch = spec.collated([item])
    input_key, label_key = _item_keys(spec, item, batch)
    spec = replace(spec, input_key=_known(spec.input_key, input_key), label_key=_known(spec.label_key, label_key),
                   mask_key=_known(spec.mask_key, infer_mask_key(batch)))
    spec = replace(spec, **_shapes(spec, batch), **_classes(spec, dataset))
    if spec.normalization is None and spec.image_shape is not None:  # the config's mean/std win over the transform's
        spec = replace(spec, normalization=transform_normalization(dataset, spec.image_shape[0]))
    inputs = "each whole item" if spec.input_key is None else repr(spec.input_key)
    labels = "none" if spec.label_key is None else repr(spec.label_key)
    return replace(spec, source=f"{spec.source} (inferred from its {split} split: input {inputs}, label {labels})")


def _first_split(spec: DataSpec) -> tuple[str, Dataset]:
    """The first split of ``INFERENCE_ORDER`` the data has; none at all raises the first one's error."""
    errors = []
    for split in INFERENCE_ORDER:
        try:
            return split, spec.dataset(split)
        except ConfigError as error:
            errors.append(error)
    raise errors[0]


def _known(given: Any, inferred: Any) -> Any:
    """A value the spec already has (the datamodule's, the config's), else the inferred one."""
    return inferred if given is INFER else given


def _item_keys(spec: DataSpec, item: Any, batch: Any) -> tuple[Any, Any]:
    """``(input_key, label_key)`` by the inference rule; when the config gave the input key, an item the rule cannot
    read is no error."""
    try:  # an own collate may add keys (a padding collate's attention_mask): read them from its batch
        return infer_keys(batch if spec.collate is not default_collate and isinstance(batch, Mapping) else item)
    except ConfigError:
        if spec.input_key is INFER:
            raise
        return None, None


def _shapes(spec: DataSpec, batch: Any) -> dict[str, Any]:
    """``input_shape`` and ``image_shape`` of a one-item batch of tensor inputs (known ones are kept)."""
    inputs = spec.split_batch(batch).inputs
    if not isinstance(inputs, torch.Tensor):
        return {}
    looks_like_image = inputs.is_floating_point() and inputs.dim() == 4 and inputs.shape[1] in (1, 3)
    return {"input_shape": spec.input_shape or tuple(inputs.shape[1:]),
            "image_shape": spec.image_shape or (tuple(inputs.shape[1:]) if looks_like_image else None)}


def _classes(spec: DataSpec, dataset: Dataset) -> dict[str, Any]:
    """``num_classes`` and ``class_names`` of a dataset's ``classes`` (known ones are kept)."""
    # torchvision datasets name their classes; a Subset (a held-out split) wraps the dataset that does
    classes = getattr(dataset, "classes", None) or getattr(getattr(dataset, "dataset", None), "classes", None)
    if not isinstance(classes, (list, tuple)) or not classes:
        return {}
    return {"num_classes": spec.num_classes or len(classes), "class_names": spec.class_names or tuple(str(c) for c in classes)}


def transform_normalization(dataset: Dataset, channels: int) -> Normalization | None:
    """The normalisation of a ``Normalize`` in the dataset's transform, if it has one value or one per channel."""
    found = normalize_in(dataset)
    if found is None or not {len(found[0]), len(found[1])} <= {1, channels} or min(found[1]) <= 0:
        return None
    return Normalization(*found)


# ----- datasets of dataloaders -----------------------------------------------------------------
class LoaderDatasets:
    """``split -> Dataset`` of dataloaders (a datamodule's or a trainer's); ``collate_fn`` is the first own collate they have."""

    def __init__(self, loader_of: Callable[[str], Any], owner: str) -> None:
        self.loader_of, self.owner = loader_of, owner
        self.collate_fn: Callable | None = None

    def __call__(self, split: str) -> Dataset:
        """The dataset of ``split``'s dataloader, remembering the loader's collate."""
        loader = self.loader_of(split)
        if isinstance(loader, (list, tuple)):
            loader = loader[0] if loader else None
        self.collate_fn = self.collate_fn or own_collate(loader)
        return _loader_dataset(loader, split, self.owner)


def _datamodule_datasets(datamodule: Any) -> LoaderDatasets:
    """``split -> Dataset`` of any LightningDataModule, through its ``<split>_dataloader()``."""
    stages_set_up: set[str] = set()

    def loader(split: str) -> Any:
        loader_fn = getattr(type(datamodule), f"{split}_dataloader", None)
        if loader_fn is None or loader_fn is getattr(pl.LightningDataModule, f"{split}_dataloader"):
            raise ConfigError(f"the probes read the {split!r} split, but {type(datamodule).__name__} has no {split}_dataloader. "
                              "HINT: set the probe's split")
        stage = "fit" if split in ("train", "val") else "test"
        if stage not in stages_set_up:  # Lightning will set it up again for the run: probes read it now, before training
            if not stages_set_up:
                datamodule.prepare_data()
            datamodule.setup(stage)
            stages_set_up.add(stage)
        return getattr(datamodule, f"{split}_dataloader")()

    return LoaderDatasets(loader, type(datamodule).__name__)


def _trainer_datasets(trainer: Any) -> LoaderDatasets:
    """``split -> Dataset`` of a run with plain dataloaders (the Python API), once Lightning loaded them."""
    attributes = {"train": "train_dataloader", "val": "val_dataloaders", "test": "test_dataloaders"}

    def loader(split: str) -> Any:
        found = getattr(trainer, attributes[split], None)
        if isinstance(found, (list, tuple)):
            found = found[0] if found else None
        if found is None:
            raise ConfigError(f"the probes read the {split!r} split, but the trainer has no {split} dataloader. "
                              "HINT: set the probe's split")
        return found

    return LoaderDatasets(loader, "the trainer")


def _loader_dataset(loader: Any, split: str, owner: str) -> Dataset:
    dataset = getattr(loader, "dataset", None)
    if dataset is None:
        raise ConfigError(f"{owner}'s {split} dataloader has no dataset the probes could index")
    return dataset
