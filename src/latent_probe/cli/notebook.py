"""``latent_probe.probe(...)``: run probes on a model from Python (a notebook), without the command line.

Example::

    import torchvision, latent_probe
    from torchvision.datasets import FakeData
    from torchvision.transforms import ToTensor

    run = latent_probe.probe(
        torchvision.models.resnet18(num_classes=10),              # any nn.Module, or a LightningModule
        FakeData(64, (3, 32, 32), 10, transform=ToTensor()),      # a Dataset, DataLoader or LightningDataModule
        probes=[{"class_path": "EmbeddingDumper", "init_args": {"layers": ["layer4"]}}, "LinearProbe"],
        weights=None,                                             # or a .pt/.pth/.safetensors/.npz state_dict
    )
    print(run / "report.html")                                    # an absolute path
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytorch_lightning as pl
from pytorch_lightning.loggers import TensorBoardLogger
from torch import nn
from torch.utils.data import DataLoader, Dataset

from latent_probe.artifacts.report import write_report
from latent_probe.cli.notebook_display import in_kernel, show_pictures
from latent_probe.cli.reference_weights import attach_references
from latent_probe.cli.trainer import ProbeTrainer
from latent_probe.data.datasets import DatasetDataModule
from latent_probe.dataspec import DataSpecOverrides, build_data_spec, own_collate
from latent_probe.errors import ConfigError
from latent_probe.models.weights import load_weights
from latent_probe.probing import PROBE_MOMENT, Probe, ProbeRunner
from latent_probe.registry import PROBES


def probe(
    model: nn.Module,
    data: Any,
    probes: Sequence[Probe | str | Mapping[str, Any]],
    weights: str | None = None,
    out: str | Path = "runs/notebook",
    data_spec: DataSpecOverrides | Mapping[str, Any] | None = None,
    show: bool | None = None,
    **trainer_options: Any,
) -> Path:
    """Run ``probes`` once on ``model`` over ``data`` (moment ``probe``) and return the run folder's absolute path.

    The model's own steps never run: any ``nn.Module`` works (classifier or not), and the data needs labels only for
    the probes that need them (``LinearProbe``). The folder holds ``report.html``. In a Jupyter kernel the main pictures
    of each probe are displayed below the cell.

    Args:
        model: any ``nn.Module`` or LightningModule; layers are its own module paths (``layer4``, ``encoder.0``).
        data: a LightningDataModule, a Dataset (used for every split) or a DataLoader.
        probes: Probe instances, registered names, or ``{"class_path": ..., "init_args": {...}}`` dicts.
        weights: a weights file loaded into the model first (prefix found, every key checked).
        out: the runs folder and experiment name: artifacts go to ``<out>/version_<n>/``.
        data_spec: corrections to what is inferred about the data (as the config's ``data_spec:`` key).
        show: display a few pictures of each probe inline (``IPython.display``); None: only in a Jupyter kernel.
        **trainer_options: other ``Trainer`` arguments (``accelerator``, ``devices``, ``precision``, ...).
    """
    if not isinstance(model, nn.Module):
        raise ConfigError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    datamodule = as_datamodule(data)
    instances = [as_probe(item) for item in probes]
    if not instances:
        raise ConfigError(f"latent_probe.probe needs at least one probe; registered: {', '.join(PROBES.list())}")
    if weights is not None:
        load_weights(model, weights)
    attach_references(instances, model)  # a ModelSimilarity's reference file, read and checked like the weights
    runner = ProbeRunner(instances)
    runner.prepare(model, build_data_spec(datamodule=datamodule, overrides=data_spec))  # every problem before any folder
    out = Path(out)
    options = {"accelerator": "auto", "devices": 1, "enable_progress_bar": False, "enable_model_summary": False,
               "enable_checkpointing": False, **trainer_options}
    trainer = ProbeTrainer(logger=TensorBoardLogger(save_dir=out.parent, name=out.name), callbacks=[runner], **options)
    trainer.probe(model, datamodule=datamodule)
    run = Path(trainer.log_dir).resolve()
    write_report(run)
    if (in_kernel() if show is None else show):
        show_pictures(run, trainer.posthoc_moment or PROBE_MOMENT, [p.name for p in instances])
    return run


def as_datamodule(data: Any) -> pl.LightningDataModule:
    """A datamodule for ``data``: itself, or one whose every split is the given Dataset (or DataLoader's dataset)."""
    if isinstance(data, pl.LightningDataModule):
        return data
    if isinstance(data, DataLoader):
        return DatasetDataModule(train=data.dataset, val=data.dataset, test=data.dataset, batch_size=data.batch_size or 64,
                                 collate_fn=own_collate(data))  # the loader's own batching (padding, say) is the data's
    if isinstance(data, Dataset) or hasattr(type(data), "__getitem__"):
        return DatasetDataModule(train=data, val=data, test=data)
    raise ConfigError(f"data must be a LightningDataModule, a Dataset or a DataLoader, got {type(data).__name__}")


def as_probe(item: Probe | str | Mapping[str, Any]) -> Probe:
    """A Probe from an instance, a registered name, or a ``class_path``/``init_args`` dict."""
    if isinstance(item, Probe):
        return item
    if isinstance(item, str):
        return PROBES.get(item)
    if isinstance(item, Mapping) and isinstance(item.get("class_path"), str):
        return PROBES.get(item["class_path"], **dict(item.get("init_args") or {}))
    raise ConfigError(f"a probe is a Probe, a registered name or a class_path dict, got {item!r}")
