"""Training throughput: a Lightning ``Trainer.fit`` epoch against a hand-written PyTorch loop.

Same model (seed 004's 784-50-100-10 sigmoid MLP), same data (MNIST-10k split held in memory,
else fake IDX files of the same size), same batches, Adam. ``ratios.lightning_vs_hand_loop`` =
Lightning's epoch time / the hand loop's, per round; ``figures.*_samples_per_s`` are medians.
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


def lightning_epoch(data: MNISTDataModule) -> None:
    """One training epoch through Lightning with everything that is not training switched off."""
    trainer = pl.Trainer(max_epochs=1, accelerator="cpu", logger=False, enable_checkpointing=False, enable_progress_bar=False,
                         enable_model_summary=False, limit_val_batches=0, num_sanity_val_steps=0)
    trainer.fit(MLPClassifier(), datamodule=data)


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
    times = paired_times({"lightning": lambda: lightning_epoch(data), "hand_loop": lambda: hand_epoch(data)}, args.repeat)
    figures = {f"{name}_s": summary(values) for name, values in times.items()}
    figures.update({f"{name}_samples_per_s": samples / figures[f"{name}_s"]["median"] for name in times})
    figures["samples_per_epoch"] = samples
    ratios = {"lightning_vs_hand_loop": paired_ratio(times["lightning"], times["hand_loop"])["median"]}
    print(f"epoch of {samples} samples: lightning {figures['lightning_s']['median']:.2f}s, hand loop "
          f"{figures['hand_loop_s']['median']:.2f}s, ratio {ratios['lightning_vs_hand_loop']:.2f}")
    write_result("throughput", figures, ratios, args.json)


if __name__ == "__main__":
    main()
