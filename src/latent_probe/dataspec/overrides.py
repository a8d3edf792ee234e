"""The config's ``data_spec:`` key: ``DataSpecOverrides``, each value checked on its own, and ``apply_overrides``,
which puts them into a spec (``build_data_spec`` then infers only what is still unknown)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from latent_probe.dataspec.spec import DataSpec, Normalization, as_image_shape
from latent_probe.errors import ConfigError, check_printable, check_range, require_choice

NO_LABELS = "none"  # `data_spec: {label_key: none}`: the items carry no label (`mask_key: none`: pool padding too)


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


def apply_overrides(spec: DataSpec, overrides: DataSpecOverrides | Mapping | None) -> DataSpec:
    """``spec`` with the config's ``data_spec:`` values put in, each checked on its own (against the data: ``check_given``)."""
    if overrides is None:
        return spec
    values = vars(overrides) if isinstance(overrides, DataSpecOverrides) else dict(overrides)
    for key in values:
        require_choice("data_spec key", key, vars(DataSpecOverrides()))
    values = {key: value for key, value in values.items() if value is not None}
    changes = _changes(values)
    return replace(spec, **changes, given=frozenset(values)) if changes else spec


def _changes(values: dict[str, Any]) -> dict[str, Any]:
    """The ``DataSpec`` fields the config's non-empty ``data_spec:`` values set, each checked."""
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
    return changes


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


def _floats(what: str, value: Any, positive: bool = False) -> tuple[float, ...]:
    given = list(value) if isinstance(value, (list, tuple)) else [value]
    if not given:
        raise ConfigError(f"{what} must be one number or one per channel, got []")
    for v in given:
        check_range(what, v, positive=positive)  # numbers only, finite, and for std > 0
    return tuple(float(v) for v in given)
