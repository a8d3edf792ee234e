"""MNISTDataModule's in-memory batches against torchvision's per-item pipeline (PIL, ToTensor, collate).

``ratios.per_item_vs_in_memory``: one pass over the training split with the per-item ``DataLoader``
(``num_workers=0``) divided by the same pass with ``in_memory: true``; ``..._workers2`` uses 2 persistent
worker processes. ``ratios.fit_epoch_per_item_vs_in_memory``: one real Lightning training epoch of seed
004's MLP, whose compute is small enough for data loading to show. Data: the offline MNIST-10k folder when
present (7,000 training images after the validation split), else fake IDX files of the same size.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import pytorch_lightning as pl
from _harness import paired_ratio, paired_times, parse_args, summary, write_result

from latent_probe.data import MNISTDataModule
from latent_probe.models import MLPClassifier

MNIST10K = Path(__file__).resolve().parents[2] / "shared" / "data" / "mnist10k"


def data_root() -> Path:
    """The offline MNIST-10k folder, or a temporary one with 8,000 + 2,000 fake images."""
    if (MNIST10K / "MNIST" / "raw").is_dir():
        return MNIST10K
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    from helpers.mnist_files import write_fake_mnist  # the tests' IDX writer

    return write_fake_mnist(Path(tempfile.mkdtemp()), n_train=8000, n_test=2000)


def one_pass(loader) -> None:
    """Iterate over every batch once."""
    for _ in loader:
        pass


def fit_one_epoch(data: MNISTDataModule) -> None:
    """One training epoch of the seed-004 MLP, no validation, logging or checkpoints."""
    trainer = pl.Trainer(max_epochs=1, accelerator="cpu", devices=1, logger=False, enable_checkpointing=False,
                         enable_progress_bar=False, enable_model_summary=False, limit_val_batches=0)
    trainer.fit(MLPClassifier(), datamodule=data)


def main() -> None:
    """Measure and report."""
    args = parse_args(__doc__.splitlines()[0])
    root = str(data_root())
    modules = {
        "in_memory": MNISTDataModule(root=root, download=False, in_memory=True, flatten=True),
        "per_item": MNISTDataModule(root=root, download=False, in_memory=False, flatten=True),
        "per_item_workers2": MNISTDataModule(root=root, download=False, in_memory=False, flatten=True, num_workers=2),
    }
    loaders = {name: module.train_dataloader() for name, module in modules.items()}  # workers persist across passes
    times = paired_times({name: (lambda loader=loader: one_pass(loader)) for name, loader in loaders.items()}, args.repeat)
    fits = paired_times({name: (lambda m=modules[name]: fit_one_epoch(m)) for name in ("in_memory", "per_item")},
                        max(1, args.repeat // 2))
    figures = {f"pass_{name}_s": summary(values) for name, values in times.items()}
    figures.update({f"fit_epoch_{name}_s": summary(values) for name, values in fits.items()})
    figures["train_images"] = len(modules["in_memory"].dataset("train"))
    ratios = {
        "per_item_vs_in_memory": paired_ratio(times["per_item"], times["in_memory"])["median"],
        "per_item_workers2_vs_in_memory": paired_ratio(times["per_item_workers2"], times["in_memory"])["median"],
        "fit_epoch_per_item_vs_in_memory": paired_ratio(fits["per_item"], fits["in_memory"])["median"],
    }
    print("  ".join(f"{name} {figures[f'pass_{name}_s']['median']:.3f}s" for name in times)
          + f"  | fit epoch: in_memory {figures['fit_epoch_in_memory_s']['median']:.2f}s, "
          f"per_item {figures['fit_epoch_per_item_s']['median']:.2f}s")
    write_result("mnist_loader", figures, ratios, args.json)


if __name__ == "__main__":
    main()
