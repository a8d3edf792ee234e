"""Cost of a probe's capture pass against a bare inference pass over the same samples.

``ratios.capture_vs_bare``: the probes' collection path (fetch the samples, forward with hooks on the
chosen layers, clone outputs, concatenate, gather) divided by the same loop without hooks.
Goal: <= 1.05. Model: seed 000's bottleneck CNN on 2,000 MNIST-sized inputs, capturing
``bottleneck`` and ``bottleneck_act`` (what the embedding dumper reads); ``all_leaf_layers`` captures
every leaf module as a heavier case.
"""

from __future__ import annotations

from types import SimpleNamespace

import torch
from _harness import paired_ratio, paired_times, parse_args, summary, write_result
from pytorch_lightning.strategies import SingleDeviceStrategy
from torch.utils.data import TensorDataset

from latent_probe.dataspec import DataSpec
from latent_probe.models.bottleneck import BottleneckClassifier
from latent_probe.probing.collection import sample_activations
from latent_probe.probing.sharding import select_indices

SAMPLES, BATCH = 2000, 256


def fake_trainer() -> SimpleNamespace:
    """The few trainer attributes ``sample_activations`` reads, for one CPU process."""
    return SimpleNamespace(world_size=1, global_rank=0, strategy=SingleDeviceStrategy(device=torch.device("cpu")))


@torch.no_grad()
def bare_pass(model: torch.nn.Module, spec: DataSpec) -> None:
    """The same samples, batches and fetching, without hooks: what inference alone costs."""
    model.eval()
    dataset = spec.dataset("test")
    indices = select_indices(len(dataset), SAMPLES).tolist()
    for start in range(0, len(indices), BATCH):
        model(spec.fetch(dataset, indices[start : start + BATCH]).inputs)


def main() -> None:
    """Measure and report."""
    args = parse_args(__doc__.splitlines()[0])
    torch.manual_seed(0)
    model = BottleneckClassifier()
    dataset = TensorDataset(torch.rand(SAMPLES, 1, 28, 28), torch.randint(0, 10, (SAMPLES,)))
    trainer, spec = fake_trainer(), DataSpec(datasets=lambda split: dataset)
    leaves = [name for name, m in model.named_modules() if name and not list(m.children())]
    variants = {
        "bare": lambda: bare_pass(model, spec),
        "capture": lambda: sample_activations(trainer, model, spec, ["bottleneck", "bottleneck_act"], "test", SAMPLES, BATCH),
        "all_leaf_layers": lambda: sample_activations(trainer, model, spec, leaves, "test", SAMPLES, BATCH),
    }
    times = paired_times(variants, args.repeat)
    figures = {f"{name}_s": summary(values) for name, values in times.items()}
    figures["samples"], figures["captured_layers_all"] = SAMPLES, len(leaves)
    ratios = {
        "capture_vs_bare": paired_ratio(times["capture"], times["bare"])["median"],
        "all_leaf_layers_vs_bare": paired_ratio(times["all_leaf_layers"], times["bare"])["median"],
    }
    print(f"bare {figures['bare_s']['median']:.3f}s  capture {figures['capture_s']['median']:.3f}s  "
          f"ratio {ratios['capture_vs_bare']:.3f} (goal <= 1.05); all {len(leaves)} leaves: {ratios['all_leaf_layers_vs_bare']:.3f}")
    write_result("capture", figures, ratios, args.json)


if __name__ == "__main__":
    main()
