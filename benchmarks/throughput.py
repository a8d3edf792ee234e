"""Training throughput: a Lightning ``Trainer.fit`` epoch against a hand-written PyTorch loop.

Same model (seed 004's 784-50-100-10 sigmoid MLP), same data (MNIST-10k split held in memory,
else fake IDX files of the same size), same batches, Adam. ``ratios.lightning_vs_hand_loop`` =
Lightning's epoch time / the hand loop's, per round; ``figures.*_samples_per_s`` are medians.
``ratios.plain_lightning_vs_hand_loop`` is the floor Lightning itself sets: a minimal LightningModule around the same
network (``training_step`` returns the loss, nothing logged), so ``ours_vs_plain_lightning`` is what our module adds.
"""

from __future__ import annotations

import pytorch_lightning as pl
import torch
from _harness import paired_ratio, paired_times, parse_args, summary, write_result
from mnist_loader import data_root

from latent_probe.data import MNISTDataModule
from latent_probe.models import MLPClassifier


def make_data() -> MNISTDataModule:
    """Flattened [0, 1] pixels in memory, batch 100 (the seed's setting)."""
    data = MNISTDataModule(root=str(data_root()), download=False, normalize=False, flatten=True, batch_size=100)
    data.setup("fit")
    return data


def lightning_epoch(data: MNISTDataModule, model: pl.LightningModule | None = None) -> None:
    """One training epoch of ``model`` (default: our MLPClassifier) through Lightning, all that is not training off."""
    trainer = pl.Trainer(max_epochs=1, accelerator="cpu", logger=False, enable_checkpointing=False, enable_progress_bar=False,
                         enable_model_summary=False, limit_val_batches=0, num_sanity_val_steps=0)
    trainer.fit(model or MLPClassifier(), datamodule=data)


class PlainModule(pl.LightningModule):
    """The least a LightningModule can be: the same network, its loss, Adam, nothing logged."""

    def __init__(self) -> None:
        super().__init__()
        self.net = MLPClassifier()

    def training_step(self, batch, batch_idx: int) -> torch.Tensor:
        """The loss of the batch."""
        loss, _ = self.net.loss_and_predictions(*batch)
        return loss

    def configure_optimizers(self) -> torch.optim.Optimizer:
        """Adam at the network's rate."""
        return torch.optim.Adam(self.parameters(), lr=self.net.lr)


def plain_lightning_epoch(data: MNISTDataModule) -> None:
    """The same epoch through Lightning with a minimal module: Lightning's own per-step cost."""
    lightning_epoch(data, PlainModule())


def hand_epoch(data: MNISTDataModule) -> None:
    """The same epoch as a plain loop: forward, loss, backward, Adam step."""
    model = MLPClassifier()
    optimizer = torch.optim.Adam(model.parameters(), lr=model.lr)
    model.train()
    for x, y in data.train_dataloader():
        loss, _ = model.loss_and_predictions(x, y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()


def main() -> None:
    """Measure and report."""
    args = parse_args(__doc__.splitlines()[0])
    torch.manual_seed(0)
    data = make_data()
    samples = len(data.dataset("train"))
    times = paired_times({"lightning": lambda: lightning_epoch(data), "plain_lightning": lambda: plain_lightning_epoch(data),
                          "hand_loop": lambda: hand_epoch(data)}, args.repeat)
    figures = {f"{name}_s": summary(values) for name, values in times.items()}
    figures.update({f"{name}_samples_per_s": samples / figures[f"{name}_s"]["median"] for name in times})
    figures["samples_per_epoch"] = samples
    ratios = {"lightning_vs_hand_loop": paired_ratio(times["lightning"], times["hand_loop"])["median"],
              "plain_lightning_vs_hand_loop": paired_ratio(times["plain_lightning"], times["hand_loop"])["median"],
              "ours_vs_plain_lightning": paired_ratio(times["lightning"], times["plain_lightning"])["median"]}
    print(f"epoch of {samples} samples: lightning {figures['lightning_s']['median']:.2f}s, hand loop "
          f"{figures['hand_loop_s']['median']:.2f}s, ratio {ratios['lightning_vs_hand_loop']:.2f} (a minimal LightningModule: "
          f"{ratios['plain_lightning_vs_hand_loop']:.2f})")
    write_result("throughput", figures, ratios, args.json)


if __name__ == "__main__":
    main()
