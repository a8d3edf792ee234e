"""The data/model contract of a run: how probes read inputs, labels and shapes, and how they call the model.

This is the only file that looks at a datamodule or a trainer's data. A ``DataSpec`` is built once
per run: a registered datamodule gives it through its ``data_spec()`` method; any other datamodule
(or a trainer with plain dataloaders) gets one by inference from its first item; the config's
top-level ``data_spec:`` key (``DataSpecOverrides``) corrects either. Probes read the spec, never
the datamodule, so they work on any data.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import pytorch_lightning as pl
import torch
from torch.utils.data import Dataset, default_collate, default_convert

from latent_probe.errors import ConfigError, check_memory, check_printable, check_range, require_choice
from latent_probe.probing.batches import Batch, Inputs, Key, infer_keys, is_stacked, take, take_inputs
from latent_probe.probing.normalize_lookup import normalize_in

SPLITS = ("train", "val", "test")
NO_LABELS = "none"  # `data_spec: {label_key: none}`: the items carry no label (`mask_key: none`: pool padding too)
MASK_KEY = "attention_mask"  # the padding mask found in dict batches (Hugging Face's name)



@dataclass
class DataSpecOverrides:
    """The config's ``data_spec:`` key: corrections to what is inferred about the data (all optional).

    Args:
        input_key: where the model input is in an item: a position (``0``) or a dict key
            (``pixel_values``); a list of keys calls the model as ``model(**{key: ...})``.
        label_key: where the label is: a position, a dict key, or ``none`` when items have no label.
        image_shape: ``(C, H, W)`` (or ``(H, W)``) of an input as an image, e.g. ``[1, 28, 28]`` for flat MNIST.
        class_names: one name per class index.
        mean: per-channel (or one) mean the inputs were normalised with; with ``std`` probes show true pixels.
        std: per-channel (or one) standard deviation of that normalisation.
        mask_key: the dict key of the padding mask (1 = a real token) that token pooling respects; found as
            ``attention_mask`` in dict batches when not given; ``none``: pool every token, padding included.

    Without ``mean``/``std``, a torchvision ``Normalize`` in the dataset's transform gives them.
    """

    input_key: int | str | list[str] | None = None
    label_key: int | str | None = None
    image_shape: list[int] | None = None
    class_names: list[str] | None = None
    mean: float | list[float] | None = None
    std: float | list[float] | None = None
    mask_key: str | None = None


@dataclass(frozen=True)
class Normalization:
    """Pixels in [0, 1] ``(n, C, H, W)`` <-> model inputs ``(n, *input_shape)`` through ``(x - mean) / std``."""

    mean: tuple[float, ...] = (0.0,)
    std: tuple[float, ...] = (1.0,)

    def _stats(self, channels: int) -> tuple[torch.Tensor, torch.Tensor]:
        mean, std = torch.tensor(self.mean, dtype=torch.float32), torch.tensor(self.std, dtype=torch.float32)
        return mean.reshape(-1, 1, 1).expand(channels, 1, 1), std.reshape(-1, 1, 1).expand(channels, 1, 1)

    def to_inputs(self, pixels: torch.Tensor) -> torch.Tensor:
        """Model inputs of images in [0, 1]."""
        mean, std = self._stats(pixels.shape[1])
        return (pixels.float() - mean.to(pixels.device)) / std.to(pixels.device)

    def to_pixels(self, images: torch.Tensor) -> torch.Tensor:
        """Images in [0, 1] of model inputs shaped as images."""
        mean, std = self._stats(images.shape[1])
        return (images.float() * std.to(images.device) + mean.to(images.device)).clamp(0, 1)


@dataclass
class DataSpec:
    """What the probes know about a run's data and how they call its model.

    Attributes:
        datasets: ``split -> Dataset`` (``train``, ``val``, ``test``); raises ``ConfigError`` for a missing split.
        input_key: where the input is in an item: a position, a dict key, a tuple of dict keys (the model
            is then called with them as keyword arguments), or None when an item *is* the input.
        label_key: where the label is (position or key), or None when items have no label.
        input_shape: one sample's model input shape (tensor inputs only).
        image_shape: ``(C, H, W)`` of one input seen as an image, or None when inputs are not images.
        class_names: one name per class index, or None (probes then use the index).
        normalization: how inputs were made of pixels in [0, 1]; None: unknown (pictures are stretched).
        source: what the spec was built from, for messages (``MNISTDataModule``, ``inferred from ...``).
        readable_at_setup: whether the data can be read in Lightning's ``setup`` hook (not so for plain dataloaders).
        num_classes: how many classes the data has, when it says (a datamodule's ``num_classes``, a dataset's ``classes``).
        given: the ``data_spec:`` keys the config set, checked against the data by ``ensure_known``.
        collate_fn: how items become a batch: the data's own (a datamodule's, a DataLoader's), None for torch's default.
        mask_key: the batch key of the padding mask token pooling respects (``attention_mask``), or None.
    """

    datasets: Callable[[str], Dataset]
    input_key: Key | tuple[str, ...] | None = 0
    label_key: Key | None = 1
    input_shape: tuple[int, ...] | None = None
    image_shape: tuple[int, int, int] | None = None
    class_names: tuple[str, ...] | None = None
    normalization: Normalization | None = None
    source: str = "the data"
    readable_at_setup: bool = True  # False for a trainer's plain dataloaders: Lightning loads them after the setup hooks
    num_classes: int | None = None
    given: frozenset[str] = frozenset()
    collate_fn: Callable | None = None
    mask_key: str | None = None
    _cache: dict[str, Dataset] = field(default_factory=dict, repr=False)

    # ----- data ----------------------------------------------------------------------------
    def dataset(self, split: str) -> Dataset:
        """The dataset of ``split``."""
        require_choice("split", split, SPLITS)
        if split not in self._cache:
            self._cache[split] = self.datasets(split)
        return self._cache[split]

    @property
    def collate(self) -> Callable[[list], Any]:
        """The data's own ``collate_fn`` (the config's, a datamodule's or a DataLoader's), else torch's ``default_collate``."""
        return self.collate_fn or getattr(self.datasets, "collate_fn", None) or default_collate

    def fetch(self, dataset: Dataset, indices: Sequence[int]) -> Batch:
        """The items at ``indices`` as one batch: one ``__getitems__`` call where the dataset stacks batches itself."""
        indices = list(indices)
        getitems = getattr(dataset, "__getitems__", None)
        items = getitems(indices) if getitems is not None else [dataset[i] for i in indices]
        return self.split_batch(items if is_stacked(items, len(indices)) else self.collated(list(items)))

    def collated(self, items: list) -> Any:
        """``items`` batched by the data's collate; items of different shapes under torch's default are a ``ConfigError``."""
        collate = self.collate
        try:
            return collate(items)
        except RuntimeError as error:
            if collate is not default_collate:
                raise
            raise ConfigError(f"the items of {self.source} differ in shape and torch's default collate cannot batch them "
                              f"({str(error).strip().splitlines()[0]}). HINT: give the data a padding collate_fn, "
                              "e.g. DatasetDataModule(collate_fn=pad_sequences)") from None

    def split_batch(self, batch: Any) -> Batch:
        """Inputs, labels and padding mask of a collated batch, by ``input_key``, ``label_key`` and ``mask_key``."""
        inputs = batch if self.input_key is None else take_inputs(batch, self.input_key)
        labels = None if self.label_key is None else take(batch, self.label_key)
        if labels is not None:
            labels = torch.as_tensor(labels)
        mask = torch.as_tensor(take(batch, self.mask_key)) if isinstance(self.mask_key, str) else None
        return Batch(inputs, labels, mask)

    def ensure_known(self) -> None:
        """Make sure keys and shapes are known (an inferred spec reads its first item now) and agree with the config."""
        self.check_given()

    def check_given(self) -> None:
        """Raise when a ``data_spec:`` value contradicts the data: the image's size, the channels of mean/std, the classes."""
        if "image_shape" in self.given and self.input_shape is not None and math.prod(self.image_shape) != math.prod(self.input_shape):
            raise ConfigError(
                f"data_spec.image_shape {list(self.image_shape)} holds {math.prod(self.image_shape)} values, but one input of "
                f"{self.source} has {math.prod(self.input_shape)} (shape {list(self.input_shape)}). HINT: fix data_spec.image_shape"
            )
        if "mean" in self.given and self.normalization is not None and self.image_shape is not None:
            channels = self.image_shape[0]
            for key, values in (("mean", self.normalization.mean), ("std", self.normalization.std)):
                if len(values) not in (1, channels):
                    raise ConfigError(f"data_spec.{key} has {len(values)} values {list(values)}, but the images of {self.source} "
                                      f"have {channels} channel(s). HINT: give one value, or one per channel")
        self.check_class_names(self.num_classes, self.source)

    def check_class_names(self, count: int | None, owner: str) -> None:
        """Raise when the config's ``class_names`` do not name exactly ``count`` classes (the data's or the model's, if known)."""
        if "class_names" in self.given and count is not None and len(self.class_names or ()) != count:
            names = list(self.class_names or ())
            shown = names if len(names) <= 12 else [*names[:12], "..."]
            raise ConfigError(f"data_spec.class_names has {len(names)} names {shown}, but {owner} has {count} classes. "
                              "HINT: give one name per class")

    # ----- the model -----------------------------------------------------------------------
    def call(self, model: Callable, inputs: Inputs) -> Any:
        """``model(x)`` for a tensor input, ``model(**x)`` for a dict of inputs."""
        return model(**inputs) if isinstance(inputs, dict) else model(inputs)

    # ----- pictures ------------------------------------------------------------------------
    @property
    def tensor_inputs(self) -> bool:
        """Whether the model input is one tensor (not a dict of keyword arguments)."""
        return not isinstance(self.input_key, tuple)

    def to_pixels(self, inputs: torch.Tensor | None, image_shape: Sequence[int] | None = None) -> torch.Tensor | None:
        """Images ``(n, C, H, W)`` in [0, 1] of model inputs, or None when the inputs are not images.

        ``image_shape`` (default: the spec's) is the shape of one image. With a known normalisation the
        pixels are exact; else each image is stretched to [0, 1] for display.
        """
        shape = tuple(image_shape or self.image_shape or ())
        if len(shape) != 3 or not isinstance(inputs, torch.Tensor) or len(inputs) == 0 or inputs[0].numel() != math.prod(shape):
            return None
        images = inputs.reshape(len(inputs), *shape).float()
        if self.normalization is not None:
            return self.normalization.to_pixels(images)
        low, high = images.amin(dim=(1, 2, 3), keepdim=True), images.amax(dim=(1, 2, 3), keepdim=True)
        return (images - low) / (high - low).clamp_min(1e-12)

    def to_inputs(self, pixels: torch.Tensor) -> torch.Tensor:
        """Model inputs ``(n, *input_shape)`` of images in [0, 1] (identity when the normalisation is unknown)."""
        inputs = self.normalization.to_inputs(pixels) if self.normalization is not None else pixels.float()
        return inputs.reshape(len(pixels), *(self.input_shape or pixels.shape[1:]))

    # ----- what a probe needs --------------------------------------------------------------
    def require_labels(self, probe: str) -> None:
        """Raise at setup when a probe needs labels that the data does not have."""
        if self.label_key is None:
            raise ConfigError(f"probe {probe!r} needs labels, but the items of {self.source} have none. HINT: set data_spec.label_key")

    def require_image_shape(self, probe: str, given: Sequence[int] | None = None) -> tuple[int, int, int]:
        """``(C, H, W)``: the probe's own ``image_shape`` if given, else the spec's; raise when neither is known."""
        shape = given or self.image_shape
        if shape is None:
            raise ConfigError(
                f"probe {probe!r} needs the inputs' image shape, which {self.source} does not give. "
                "HINT: set data_spec.image_shape (or the probe's image_shape), e.g. [1, 28, 28]"
            )
        shape = as_image_shape(shape, "image_shape")
        if self.input_shape is not None and math.prod(self.input_shape) != math.prod(shape):
            raise ConfigError(
                f"probe {probe!r}: image shape {list(shape)} does not hold the model's {math.prod(self.input_shape)} "
                f"input values (input shape {list(self.input_shape)}). HINT: fix image_shape"
            )
        return shape

    def class_name(self, label: int) -> str:
        """The name of class ``label`` (its number when no names are known)."""
        names = self.class_names or ()
        return str(names[label]) if 0 <= label < len(names) else str(label)

    def names_for(self, labels: torch.Tensor | None) -> list[str]:
        """Class names for ``0 .. max(labels)`` (numbers where unnamed)."""
        count = int(labels.max()) + 1 if labels is not None and len(labels) else 1
        return [self.class_name(c) for c in range(max(count, len(self.class_names or ())))]


# ----- building a spec ------------------------------------------------------------------------
def build_data_spec(datamodule: Any = None, trainer: Any = None, overrides: DataSpecOverrides | Mapping | None = None) -> DataSpec:
    """The run's ``DataSpec``: the datamodule's own ``data_spec()``, else inferred, then corrected by ``overrides``."""
    datamodule = datamodule if datamodule is not None else getattr(trainer, "datamodule", None)
    own = getattr(datamodule, "data_spec", None)
    if callable(own):
        spec = own()
        spec.num_classes = spec.num_classes or declared_classes(datamodule) or (len(spec.class_names) if spec.class_names else None)
    elif datamodule is not None:
        spec = InferredDataSpec(_datamodule_datasets(datamodule), INFER, INFER, source=type(datamodule).__name__, mask_key=INFER)
    elif trainer is not None:
        spec = InferredDataSpec(_trainer_datasets(trainer), INFER, INFER, source="the trainer's dataloaders", readable_at_setup=False,
                                mask_key=INFER)
    else:
        spec = DataSpec(datasets=_no_data, source="no data")
    return apply_overrides(spec, overrides)


def declared_classes(owner: Any) -> int | None:
    """The number of classes a datamodule (``num_classes``) or a model (its ``num_classes`` hyperparameter) says it has."""
    hparams = getattr(owner, "hparams", None)
    count = getattr(owner, "num_classes", None) or (hparams.get("num_classes") if isinstance(hparams, Mapping) else None)
    return count if isinstance(count, int) and not isinstance(count, bool) and count > 0 else None


def _no_data(split: str) -> Dataset:
    raise ConfigError(f"the probes read the {split!r} split, but the run has no datamodule or dataloaders. HINT: set `data:` in the config")


def apply_overrides(spec: DataSpec, overrides: DataSpecOverrides | Mapping | None) -> DataSpec:
    """``spec`` with the config's ``data_spec:`` values put in, each checked on its own (against the data: ``ensure_known``)."""
    if overrides is None:
        return spec
    values = vars(overrides) if isinstance(overrides, DataSpecOverrides) else dict(overrides)
    for key in values:
        require_choice("data_spec key", key, vars(DataSpecOverrides()))
    values = {key: value for key, value in values.items() if value is not None}
    changes: dict[str, Any] = {}
    if "input_key" in values:
        changes["input_key"] = as_key("data_spec.input_key", values["input_key"])
    if "label_key" in values:
        label_key = values["label_key"]
        changes["label_key"] = None if str(label_key).lower() == NO_LABELS else as_key("data_spec.label_key", label_key)
    if "mask_key" in values:
        mask_key = str(values["mask_key"])
        changes["mask_key"] = None if mask_key.lower() == NO_LABELS else as_key("data_spec.mask_key", mask_key)
    if "image_shape" in values:
        changes["image_shape"] = as_image_shape(values["image_shape"], "data_spec.image_shape")
    if "class_names" in values:
        changes["class_names"] = as_class_names(values["class_names"])
    if ("mean" in values) != ("std" in values):
        raise ConfigError("data_spec: give both mean and std (the normalisation the inputs went through), or neither")
    if "mean" in values:
        changes["normalization"] = as_normalization(values["mean"], values["std"])
    return replace(spec, **changes, given=frozenset(values), _cache={}) if changes else spec


def as_key(what: str, key: Any) -> Any:
    """A position or a dict key as given, a list of keys as a tuple; a name with control characters is none of the data's."""
    if isinstance(key, (list, tuple)):
        return tuple(as_key(f"{what}[{i}]", part) for i, part in enumerate(key))
    if isinstance(key, str):
        check_printable(what, key)
    return key


def as_class_names(names: Any) -> tuple[str, ...]:
    """The config's ``class_names``: a list of one-line names (they go into TSV metadata and picture legends)."""
    if isinstance(names, (str, bytes)) or not isinstance(names, Sequence):
        raise ConfigError(f"data_spec.class_names must be a list of names, got {names!r}")
    for i, name in enumerate(names):
        check_printable(f"data_spec.class_names[{i}]", str(name))
    return tuple(str(name) for name in names)


def as_normalization(mean: Any, std: Any) -> Normalization:
    """The config's ``mean``/``std``: finite numbers, std > 0, one value or one per channel (the same count for both)."""
    means, stds = _floats("data_spec.mean", mean), _floats("data_spec.std", std, positive=True)
    if len(means) != len(stds) and 1 not in (len(means), len(stds)):
        raise ConfigError(f"data_spec.mean has {len(means)} values and data_spec.std {len(stds)}: give one value, or one per channel, "
                          f"for each (mean {list(means)}, std {list(stds)})")
    return Normalization(means, stds)


def transform_normalization(dataset: Dataset, channels: int) -> Normalization | None:
    """The normalisation of a ``Normalize`` in the dataset's transform, if it has one value or one per channel."""
    found = normalize_in(dataset)
    if found is None or not {len(found[0]), len(found[1])} <= {1, channels} or min(found[1]) <= 0:
        return None
    return Normalization(*found)


def as_image_shape(shape: Sequence[int] | None, what: str) -> tuple[int, int, int]:
    """``(C, H, W)`` from a ``(C, H, W)`` or ``(H, W)`` sequence of positive ints; anything else raises."""
    values = tuple(shape or ())
    if len(values) == 2:
        values = (1, *values)
    if len(values) != 3 or not all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in values):
        raise ConfigError(f"{what} must be [C, H, W] or [H, W] of positive integers, got {list(shape or [])}")
    check_memory(what, list(values), math.prod(values) * 4, "one float32 image")
    return values  # type: ignore[return-value]


def _floats(what: str, value: Any, positive: bool = False) -> tuple[float, ...]:
    given = list(value) if isinstance(value, (list, tuple)) else [value]
    if not given:
        raise ConfigError(f"{what} must be one number or one per channel, got []")
    for v in given:
        check_range(what, v, positive=positive)  # numbers only, finite, and for std > 0
    return tuple(float(v) for v in given)


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


def own_collate(loader: Any) -> Callable | None:
    """A DataLoader's ``collate_fn`` unless it is torch's default (which the probes use anyway)."""
    collate = getattr(loader, "collate_fn", None)
    return None if collate in (None, default_collate, default_convert) else collate


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
    """``split -> Dataset`` of a run with plain dataloaders (the Python API), read when a probe first needs it."""
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


class _Infer:
    """Marks a key still to be inferred from the data."""

    def __repr__(self) -> str:
        return "<inferred>"


INFER: Any = _Infer()


class InferredDataSpec(DataSpec):
    """A ``DataSpec`` that reads its keys, shapes and class names from the first item it is asked about.

    Values set before that (the config's ``data_spec:``) are kept; only the unknown ones are inferred.
    """

    def ensure_known(self) -> None:
        """Infer from the first split that exists (validation first), if nothing was inferred yet; then check the config."""
        if not getattr(self, "_inferred", False):
            for split in ("val", "train", "test"):
                try:
                    self.dataset(split)
                    break
                except ConfigError:
                    continue
        super().ensure_known()

    def dataset(self, split: str) -> Dataset:
        """The dataset of ``split`` (inferring what is unknown from it, once)."""
        dataset = super().dataset(split)
        if not getattr(self, "_inferred", False):
            self._infer(dataset, split)
        return dataset

    def _infer(self, dataset: Dataset, split: str) -> None:
        if len(dataset) == 0:  # type: ignore[arg-type]
            raise ConfigError(f"the {split!r} split of {self.source} is empty")
        item = dataset[0]
        batch = self.collated([item])
        try:  # an own collate may add keys (a padding collate's attention_mask): read them from its batch
            input_key, label_key = infer_keys(batch if self.collate is not default_collate and isinstance(batch, Mapping) else item)
        except ConfigError:
            if self.input_key is INFER:
                raise
            input_key, label_key = None, None
        self.input_key = input_key if self.input_key is INFER else self.input_key
        self.label_key = label_key if self.label_key is INFER else self.label_key
        if self.mask_key is INFER:
            self.mask_key = MASK_KEY if isinstance(batch, Mapping) and MASK_KEY in batch else None
        inputs = self.split_batch(batch).inputs
        if isinstance(inputs, torch.Tensor):
            self.input_shape = self.input_shape or tuple(inputs.shape[1:])
            looks_like_image = inputs.is_floating_point() and inputs.dim() == 4 and inputs.shape[1] in (1, 3)
            self.image_shape = self.image_shape or (tuple(inputs.shape[1:]) if looks_like_image else None)
        # torchvision datasets name their classes; a Subset (a held-out split) wraps the dataset that does
        classes = getattr(dataset, "classes", None) or getattr(getattr(dataset, "dataset", None), "classes", None)
        if isinstance(classes, (list, tuple)) and classes:
            self.num_classes = self.num_classes or len(classes)
            self.class_names = self.class_names or tuple(str(c) for c in classes)
        if self.normalization is None and self.image_shape is not None:  # the config's mean/std win over the transform's
            self.normalization = transform_normalization(dataset, self.image_shape[0])
        self.source = f"{self.source} (inferred from its {split} split: input {self.input_key!r}, label {self.label_key!r})"
        self._inferred = True


