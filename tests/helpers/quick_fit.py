"""A real Lightning Trainer shrunk for tests: CPU, no logger, checkpoint, progress bar or summary."""

from __future__ import annotations

import pytorch_lightning as pl

from latent_probe.data import MNISTDataModule


def quick_trainer(max_epochs: int = 1, **kwargs) -> pl.Trainer:
    """A quiet CPU trainer; ``kwargs`` override or add Trainer arguments."""
    settings = dict(max_epochs=max_epochs, accelerator="cpu", devices=1, logger=False, enable_checkpointing=False,
                    enable_progress_bar=False, enable_model_summary=False, num_sanity_val_steps=0)
    return pl.Trainer(**{**settings, **kwargs})


def fake_mnist_data(root, **kwargs) -> MNISTDataModule:
    """The datamodule on the fake IDX files of ``helpers.mnist_files.write_fake_mnist``, pixels in [0, 1], flattened."""
    settings = dict(root=str(root), download=False, val_size=32, batch_size=32, normalize=False, flatten=True)
    return MNISTDataModule(**{**settings, **kwargs})
