"""The linear probe's read-out: scikit-learn's float64 L-BFGS against ours (float32, preconditioned, on the model's device).

Activations: ``configs/bottleneck2d.yaml``'s CNN after one epoch on the MNIST-10k split, at the linear probe's
default layers (every activation: ``features.act1``, ``features.act2``, ``features.fc_act``, ``bottleneck_act``),
2,000 fit samples (train split) and 2,000 evaluation samples (test split). Each variant standardizes, fits one
classifier per layer and predicts, all layers in a round. ``ratios.sklearn_vs_ours`` = scikit-learn's time / ours,
per round (goal >= 10); ``figures.accuracy`` holds both accuracies and their difference in points per layer (goal:
within 1). ``--threads`` defaults to every core here: scikit-learn's BLAS uses them all anyway.
"""

from __future__ import annotations

import os
import tempfile

import pytorch_lightning as pl
import torch
from _harness import paired_ratio, paired_times, parse_args, summary, write_result
from mnist_loader import data_root

from latent_probe.analysis.linear_readout import readout_accuracy
from latent_probe.data import MNISTDataModule
from latent_probe.models import BottleneckClassifier
from latent_probe.probes import LinearProbe
from latent_probe.probing import ProbeRunner


class KeepActivations(LinearProbe):
    """The linear probe's own collection, kept for timing the read-outs outside the run."""

    def write(self, result, out) -> None:
        """Keep the activations instead of fitting."""
        self.kept = result


def activations() -> object:
    """Train one epoch and collect the linear probe's activations at fit_end."""
    torch.manual_seed(0)
    data = MNISTDataModule(root=str(data_root()), download=False, batch_size=128)
    probe = KeepActivations(fit_split="train", split="test", max_samples=2000)
    with tempfile.TemporaryDirectory() as folder:
        trainer = pl.Trainer(max_epochs=1, accelerator="cpu", default_root_dir=folder, enable_checkpointing=False,
                             enable_progress_bar=False, enable_model_summary=False, limit_val_batches=0, callbacks=[ProbeRunner([probe])])
        trainer.fit(BottleneckClassifier(), datamodule=data)
    return probe.kept


def readouts(kept, method: str) -> dict[str, float]:
    """Fit and score every layer with ``method``; returns the accuracies."""
    return {layer: readout_accuracy(kept.train[layer], kept.train_label, kept.evaluation[layer], kept.evaluation_label,
                                    method=method)[0] for layer in kept.train}


def main() -> None:
    """Measure and report."""
    args = parse_args(__doc__.splitlines()[0], lambda p: p.set_defaults(threads=os.cpu_count() or 1, repeat=3))
    kept = activations()
    times = paired_times({"sklearn": lambda: readouts(kept, "sklearn"), "ours": lambda: readouts(kept, "torch")}, args.repeat)
    theirs, ours = readouts(kept, "sklearn"), readouts(kept, "torch")
    figures = {f"{name}_s": summary(values) for name, values in times.items()}
    figures["accuracy"] = {layer: {"sklearn": theirs[layer], "ours": ours[layer], "diff_points": 100 * (ours[layer] - theirs[layer])}
                           for layer in theirs}
    figures["features"] = {layer: int(values.shape[1]) for layer, values in kept.train.items()}
    figures["samples"] = {"fit": len(kept.train_label), "eval": len(kept.evaluation_label)}
    figures["max_abs_diff_points"] = max(abs(v["diff_points"]) for v in figures["accuracy"].values())
    ratios = {"sklearn_vs_ours": paired_ratio(times["sklearn"], times["ours"])["median"]}
    for layer, values in figures["accuracy"].items():
        print(f"{layer:18s} {figures['features'][layer]:5d} features  sklearn {values['sklearn']:.4f}  ours {values['ours']:.4f}  "
              f"({values['diff_points']:+.1f} points)")
    print(f"sklearn {figures['sklearn_s']['median']:.2f}s  ours {figures['ours_s']['median']:.3f}s  "
          f"ratio {ratios['sklearn_vs_ours']:.1f}x (goal >= 10)")
    write_result("linear_probe", figures, ratios, args.json)


if __name__ == "__main__":
    main()
