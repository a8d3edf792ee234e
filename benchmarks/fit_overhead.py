"""What probes add to training: one epoch of ``configs/bottleneck2d.yaml`` with every applicable probe
at its default cadence (each fires once, at ``fit_end``) against the same epoch with none.

Probes: the embedding dumper (``bottleneck``, ``bottleneck_act``: NPZ, projector with sprites,
pictures, metrics), the linear probe (every activation), the filter tiler (``features.conv1``) and
the influence mapper (``bottleneck``, 10 digits + white). Data: the MNIST-10k split in memory, else
fake IDX files of the same size. ``ratios.probes_vs_bare`` = epoch-with-probes / epoch-without, per
round; ``figures.probe_s`` is the difference (the probes' own time).
"""

from __future__ import annotations

import tempfile

import pytorch_lightning as pl
import torch
from _harness import paired_ratio, paired_times, parse_args, summary, write_result
from mnist_loader import data_root

from latent_probe.data import MNISTDataModule
from latent_probe.models import BottleneckClassifier
from latent_probe.probes import EmbeddingDumper, FilterTiler, InfluenceMapper, LinearProbe


def all_probes() -> list:
    """Every probe that applies to the bottleneck CNN, with its defaults."""
    return [
        EmbeddingDumper(layers=["bottleneck", "bottleneck_act"]),
        LinearProbe(),
        FilterTiler(layers=["features.conv1"]),
        InfluenceMapper(layers=["bottleneck"]),
    ]


def one_epoch(data: MNISTDataModule, probes: list) -> None:
    """One training epoch (no validation), logging to a throw-away TensorBoard folder."""
    with tempfile.TemporaryDirectory() as folder:
        trainer = pl.Trainer(max_epochs=1, accelerator="cpu", default_root_dir=folder, enable_checkpointing=False,
                             enable_progress_bar=False, enable_model_summary=False, limit_val_batches=0, callbacks=probes)
        trainer.fit(BottleneckClassifier(), datamodule=data)


def main() -> None:
    """Measure and report."""
    args = parse_args(__doc__.splitlines()[0])
    torch.manual_seed(0)
    data = MNISTDataModule(root=str(data_root()), download=False, batch_size=128)
    data.setup("fit")
    times = paired_times({"bare": lambda: one_epoch(data, []), "probes": lambda: one_epoch(data, all_probes())},
                         max(1, args.repeat), warmup=0)
    figures = {f"{name}_s": summary(values) for name, values in times.items()}
    figures["probe_s"] = summary([p - b for p, b in zip(times["probes"], times["bare"])])
    figures["train_samples"] = len(data.dataset("train"))
    ratios = {"probes_vs_bare": paired_ratio(times["probes"], times["bare"])["median"]}
    print(f"epoch: bare {figures['bare_s']['median']:.1f}s, with 4 probes {figures['probes_s']['median']:.1f}s, "
          f"ratio {ratios['probes_vs_bare']:.2f}")
    write_result("fit_overhead", figures, ratios, args.json)


if __name__ == "__main__":
    main()
