"""The ``mean``/``std`` of a torchvision ``Normalize`` inside a dataset's transform, so that pictures show true pixels
without the config repeating them in ``data_spec``."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

DEPTH = 8  # wrappers (Subset of Subset, Compose of Compose) are shallow: a cycle must not loop forever


def normalize_in(dataset: Any) -> tuple[tuple[float, ...], tuple[float, ...]] | None:
    """``(mean, std)`` of the first ``Normalize`` in the transform of ``dataset`` (or of the dataset it wraps), else None."""
    for transform in _transforms_of(dataset, DEPTH):
        for step in _steps(transform, DEPTH):
            if type(step).__name__ == "Normalize" and hasattr(step, "mean") and hasattr(step, "std"):
                return _floats(step.mean), _floats(step.std)
    return None


def _transforms_of(dataset: Any, depth: int) -> Iterator[Any]:
    """The transforms of a dataset and of what it wraps (a ``Subset``'s ``dataset``, a ``ConcatDataset``'s first part)."""
    if dataset is None or depth == 0:
        return
    for name in ("transform", "transforms"):
        if getattr(dataset, name, None) is not None:
            yield getattr(dataset, name)
    inner = getattr(dataset, "dataset", None) or next(iter(getattr(dataset, "datasets", None) or []), None)
    yield from _transforms_of(inner, depth - 1)


def _steps(transform: Any, depth: int) -> Iterator[Any]:
    """``transform`` and the steps inside it: a ``Compose``'s ``transforms``, a ``StandardTransform``'s ``transform``."""
    if transform is None or depth == 0:
        return
    yield transform
    inner = getattr(transform, "transforms", None) or getattr(transform, "transform", None)
    if isinstance(inner, (list, tuple)):
        for step in inner:
            yield from _steps(step, depth - 1)
    elif inner is not None and inner is not transform:
        yield from _steps(inner, depth - 1)


def _floats(values: Any) -> tuple[float, ...]:
    flat = values.tolist() if hasattr(values, "tolist") else values
    return tuple(float(v) for v in (flat if isinstance(flat, (list, tuple)) else [flat]))
