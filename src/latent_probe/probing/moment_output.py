"""Where a firing's result goes: ``<run>/probes/<probe>/<moment>/`` with its manifest, and the run's TensorBoard.

The layout of a moment folder (files, ``manifest.json``, ``.complete``) is the writer's (artifacts/writer.py); this
file says what the manifest records of a probe and when an earlier folder is kept or replaced.
"""

from __future__ import annotations

import inspect
import shutil
from pathlib import Path
from typing import Any

from pytorch_lightning.loggers import TensorBoardLogger

from latent_probe.artifacts.layout import is_complete, moment_dir, read_manifest
from latent_probe.artifacts.writer import MomentWriter
from latent_probe.probing.probe import Probe


def already_written(log_dir: str | Path, probe: Probe, moment: str, step: int) -> bool:
    """Whether the moment's folder is complete and was written at ``step`` (a resumed run redoing its epoch keeps it)."""
    folder = moment_dir(log_dir, probe.name, moment)
    return is_complete(folder, run=log_dir) and read_manifest(folder, run=log_dir).get("step") == step


def write_moment(log_dir: str | Path, probe: Probe, moment: str, step: int, result: Any, tensorboard: Any,
                 same_firing_as: str | None = None, notes: dict[str, Any] | None = None) -> None:
    """Write ``result`` through ``probe.write`` into a fresh moment folder; the manifest and marker come last.

    ``notes``: what the manifest adds about the firing (``initial_weights`` when it read activations at them).
    """
    folder = moment_dir(log_dir, probe.name, moment)
    if folder.exists():  # stale (another step) or half-written (a killed run): none of it may stay mixed in
        shutil.rmtree(folder)
    about = {**describe(probe), **(notes or {})}
    if same_firing_as:  # computed once per training step: the second name says which firing it repeats
        about["same_firing_as"] = same_firing_as
    out = MomentWriter(log_dir, probe.name, moment, step, tensorboard, about, background=True)
    try:
        probe.write(result, out)
        out.flush()
        out.mark_complete()
    finally:
        out.close()  # no picture of this firing is still being written once it is over


def describe(probe: Probe) -> dict[str, Any]:
    """What the moment's manifest says of a probe: class, description, layers with the part read and how stored, split."""
    doc = (inspect.getdoc(type(probe)) or "").split("\n\n")[0].replace("\n", " ")
    about = {"class": f"{type(probe).__module__}.{type(probe).__qualname__}", "description": doc,
             "layers": [_layer_record(probe, layer) for layer in probe.layers],
             "split": probe.split if probe.reads_activations else None,
             "labelled": probe.spec is not None and probe.spec.label_key is not None}
    if probe.left_out:  # modules a pattern matched that the forward pass never calls: the reader sees why they are missing
        about["left_out"] = [{"layer": layer, "why": why} for layer, why in probe.left_out.items()]
    return about


def _layer_record(probe: Probe, layer: str) -> dict[str, Any]:
    record: dict[str, Any] = {"layer": layer, "part": probe.layer_parts.get(layer, "")}
    if layer in probe.layer_shapes:
        shape = probe.layer_shapes[layer]
        mask_key = probe.spec.mask_key if probe.spec is not None and isinstance(probe.spec.mask_key, str) else None
        record.update(shape=list(shape), stored=probe.pooling.describe(shape, mask_key))
    return record


def tensorboard_writer(trainer: Any) -> Any:
    """The run's TensorBoard ``SummaryWriter``, or None when no TensorBoard logger is attached."""
    for logger in trainer.loggers:
        if isinstance(logger, TensorBoardLogger):
            return logger.experiment
    return None
