"""Layer similarity (linear CKA): our probe against a float64 NumPy reference and torch-cka, its speed and its memory.

Model: a 784-256-256-256-256 ReLU MLP (random weights), its 8 layers (4 Linear, 4 ReLU) read by ``LayerSimilarity``
through the engine's planned pass (``SharedPasses``, ``Firing``: everything but writing files) over the 10,000 images
of MNIST-10k (its 8,000 "train" and 2,000 "test" images; random images when it is absent), held as our image
datamodules hold a split (``InMemoryDataset``: one indexing per batch) and read by both tools in batches of 256
(torch-cka's DataLoader, with ``keep_batch`` as its collate; our probe's ``batch_size``).

``figures.reference_max_abs_diff``: our exact CKA matrix (float64 streamed statistics) against Kornblith et al.'s
formula ``tr(K H L H) / sqrt(tr(K H K H) tr(L H L H))`` in float64 NumPy on the same activations of a seeded sample of
``--reference-samples`` (the reference holds n x n Gram matrices). Goal <= 1e-5.
``figures.torch_cka_max_abs_diff``: our minibatch estimator (groups of 256 consecutive samples of the pass's seeded
random order) against torch-cka's ``CKA.compare``, which averages the same unbiased HSIC over a DataLoader's batches:
batches of 256 with ``drop_last`` in that order (our groups), torch-cka run in float64 (under ``torch.set_default_dtype``: it makes its ones vectors in
the default dtype). Goal <= 1e-4. ``figures.torch_cka_float32_max_abs_diff``: against torch-cka as shipped, in the
model's float32 (its Gram matrices are not centred, so float32 loses digits).
``ratios.torch_cka_vs_minibatch``: torch-cka (float32, under ``torch.no_grad``, as a user runs it; each call
forwards the model twice, once per "model") over ours with the same grouping (no bootstrap), paired rounds. Goal >= 10.
``ratios.torch_cka_vs_exact``: the same over ours with the default method for these widths (exact).
``ratios.default_vs_exact``: the probe with its defaults (exact, and the bootstrap: 1,000 resamples of a 1,000-sample
sample, gathered in the same pass) over the exact matrix alone: what the default interval costs.
``figures.bare_pass_s``: the engine's pass with the layers hooked and nothing computed (fetching items one by one,
collating, the forward pass, the hooks' copies): the floor under ours.
``ratios.replay_torch_cka_vs_<method>``: the same with the 8 layers replayed from stored activations (a module per
layer returning its rows of the batch's indices): the cost of CKA alone, without the model, its fetching and collating.
``ratios.peak_rss_50k_vs_10k_<method>``: peak RSS (``VmHWM`` of ``/proc/self/status``: ``ru_maxrss`` would keep the
parent's peak from the fork) of a fresh process running the probe's pass and compute (with its default bootstrap) over
50,000 samples over that of one over 10,000 (images made from their index: the data takes no memory). Goal <= 1.10.
``figures.rss_growth_<n>_<method>_bytes``: peak RSS minus the RSS after the setup pass.
"""

from __future__ import annotations

import contextlib
import copy
import importlib.util
import json
import os
import subprocess
import sys
import warnings
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import torch
from _harness import paired_ratio, paired_times, parse_args, summary, write_result
from pytorch_lightning.strategies import SingleDeviceStrategy
from torch import nn
from torch.utils.data import DataLoader

from latent_probe.data import InMemoryDataset
from latent_probe.data.in_memory import keep_batch
from latent_probe.dataspec import DataSpec
from latent_probe.probes import LayerSimilarity
from latent_probe.probing import Firing
from latent_probe.probing.collection import PassRequest, Streamer, run_pass, sample_activations
from latent_probe.probing.pass_plan import SharedPasses
from latent_probe.probing.pooling import Pooling
from latent_probe.probing.setup import prepare_probes
from latent_probe.probing.sharding import visiting_order
from latent_probe.probing.stream import StreamState

MNIST10K = Path(__file__).resolve().parents[2] / "shared" / "data" / "mnist10k"
GROUP = 256
CPU = torch.device("cpu")


def mlp() -> nn.Sequential:
    """784-256-256-256-256 with ReLUs: 8 layers to compare, named "1" to "8"."""
    torch.manual_seed(0)
    layers: list[nn.Module] = [nn.Flatten()]
    for width_in in (784, 256, 256, 256):
        layers += [nn.Linear(width_in, 256), nn.ReLU()]
    return nn.Sequential(*layers).eval()


LAYERS = [str(i) for i in range(1, 9)]


def images(count: int) -> tuple[torch.Tensor, str]:
    """``(count, 784)`` MNIST-10k pixels / 255 (train then test), or random images, and where they came from."""
    if (MNIST10K / "MNIST" / "raw").is_dir() and count <= 10_000:
        from torchvision.datasets import MNIST

        data = torch.cat([MNIST(str(MNIST10K), train=train, download=False).data for train in (True, False)])
        return data[:count].float().div(255).reshape(count, 784), "MNIST-10k (8,000 train + 2,000 test images)"
    return torch.rand(count, 784, generator=torch.Generator().manual_seed(0)), "random images"


class Lookup(nn.Module):
    """A layer that returns its stored activations of the samples whose indices it is given."""

    def __init__(self, table: torch.Tensor) -> None:
        super().__init__()
        self.table = table

    def forward(self, index: torch.Tensor) -> torch.Tensor:
        """The stored rows of ``index``."""
        return self.table[index.long()]


class Replay(nn.Module):
    """The model's 8 layers replayed from stored activations (same names): CKA's own cost, without the model's."""

    def __init__(self, model: nn.Module, x: torch.Tensor) -> None:
        super().__init__()
        outputs = {}
        hooks = [model.get_submodule(name).register_forward_hook(lambda m, i, o, name=name: outputs.__setitem__(name, o))
                 for name in LAYERS]
        with torch.no_grad():
            model(x)
        for hook in hooks:
            hook.remove()
        for name in LAYERS:
            self.add_module(name, Lookup(outputs[name]))

    def forward(self, index: torch.Tensor) -> None:
        """Every layer's rows of ``index``."""
        for name in LAYERS:
            self.get_submodule(name)(index)


def samples(x: torch.Tensor) -> InMemoryDataset:
    """``x`` with zero labels as our image datamodules hold a split in memory (one indexing per batch, not per item)."""
    return InMemoryDataset(x, torch.zeros(len(x), dtype=torch.int64))


def fake_trainer() -> SimpleNamespace:
    """The few trainer attributes the engine's pass reads, for one CPU process."""
    return SimpleNamespace(world_size=1, global_rank=0, is_global_zero=True, strategy=SingleDeviceStrategy(device=CPU))


class Ours:
    """A prepared ``LayerSimilarity`` (setup pass done) computed through the engine's planned pass, as at a moment."""

    def __init__(self, model: nn.Module, spec: DataSpec, **options) -> None:
        self.model, self.spec, self.trainer = model, spec, fake_trainer()
        self.probe = LayerSimilarity(layers=LAYERS, **{"batch_size": GROUP, **options})
        prepare_probes([self.probe], model, spec)

    def __call__(self) -> dict:
        passes = SharedPasses(self.trainer, self.model, self.spec, [self.probe], CPU)
        return self.probe.compute(Firing(self.probe, "probe", self.trainer, self.model, passes))


def bare_pass(model: nn.Module, spec: DataSpec) -> None:
    """The engine's pass over the split with the 8 layers hooked and a streamer that does nothing: the floor of ours."""
    streamer = Streamer(LAYERS, None, StreamState(), lambda state, outputs, batch: None)
    request = PassRequest("val", LAYERS, None, 0, GROUP, 0, Pooling(), streamers=[streamer])
    run_pass(fake_trainer(), model, spec, request, CPU)


def reference_cka(outputs: list[np.ndarray]) -> np.ndarray:
    """Kornblith et al. (2019) in float64 NumPy: centred Gram matrices, HSIC = tr(K H L H), normalised."""
    n = len(outputs[0])
    h = np.eye(n) - 1.0 / n
    centred = [h @ (x @ x.T) @ h for x in outputs]
    hsic = np.array([[np.sum(a * b) for b in centred] for a in centred])  # tr(HKH HLH) = tr(KHLH)
    return hsic / np.sqrt(np.outer(np.diag(hsic), np.diag(hsic)))


def against_reference(model: nn.Module, spec: DataSpec, samples: int) -> float:
    """Largest difference of our exact matrix from the reference on the same seeded sample's activations."""
    ours = Ours(model, spec, method="exact", max_samples=samples)()["cka"]
    sample = sample_activations(fake_trainer(), model, spec, LAYERS, "val", samples, device=CPU)
    expected = reference_cka([sample.outputs[layer].double().numpy() for layer in LAYERS])
    return float(np.abs(ours - expected).max())


def torch_cka(model: nn.Module, x: torch.Tensor, dtype: torch.dtype = torch.float32) -> np.ndarray:
    """torch-cka's matrix of the model with itself over batches of ``GROUP`` (drop_last), in ``dtype``, the samples in
    the order our pass visits them (``visiting_order``: a seeded permutation), so that its batches are our groups."""
    from torch_cka import CKA

    model = copy.deepcopy(model).to(dtype)  # torch-cka adds hooks it never removes: a fresh copy per call
    order = visiting_order(len(x), None, 0, shuffled=True).tolist()
    loader = DataLoader(samples(x.to(dtype)), batch_size=GROUP, sampler=order, drop_last=True, collate_fn=keep_batch)
    default = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    try:
        with torch.no_grad(), warnings.catch_warnings(), open(os.devnull, "w") as null, contextlib.redirect_stderr(null):
            warnings.simplefilter("ignore")  # "dataloader 2 not given"; stderr: its progress bar
            cka = CKA(model, model, "a", "b", model1_layers=LAYERS, model2_layers=LAYERS)
            cka.compare(loader)
    finally:
        torch.set_default_dtype(default)
    return cka.hsic_matrix.double().numpy()


CHILD = """
import json, re, sys
import torch
sys.path[:0] = [sys.argv[3], sys.argv[4]]
from similarity import CPU, Ours, mlp
from latent_probe.data import InMemoryDataset
from latent_probe.data.in_memory import keep_batch
from latent_probe.dataspec import DataSpec
torch.set_num_threads(1)

class IndexedImages(torch.utils.data.Dataset):
    def __init__(self, count):
        self.count = count
    def __len__(self):
        return self.count
    def __getitem__(self, i):
        return torch.rand(784, generator=torch.Generator().manual_seed(i)), i % 10

def high_water_kib():
    # VmHWM: this process's peak RSS since its exec (ru_maxrss would carry the parent's peak over from the fork)
    with open("/proc/self/status") as status:
        return int(re.search(r"VmHWM:\\s+(\\d+) kB", status.read()).group(1))

count, method = int(sys.argv[1]), sys.argv[2]
ours = Ours(mlp(), DataSpec(datasets=lambda split: IndexedImages(count)), method=method)
before = high_water_kib()
ours()
print(json.dumps({"before_kib": before, "peak_kib": high_water_kib()}))
"""


def peak_rss(count: int, method: str) -> dict:
    """Peak RSS of one fresh process running the probe over ``count`` samples."""
    here = Path(__file__).resolve().parent
    done = subprocess.run([sys.executable, "-c", CHILD, str(count), method, str(here), str(here.parent / "src")],
                          capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def memory_figures(sizes: list[int]) -> tuple[dict, dict]:
    """Peak RSS and its growth at each size, per method, and the ratio of the largest size's peak to the smallest's."""
    figures, ratios = {}, {}
    for method in ("exact", "minibatch"):
        runs = {count: peak_rss(count, method) for count in sizes}
        for count, run in runs.items():
            figures[f"peak_rss_{count}_{method}_bytes"] = run["peak_kib"] * 1024
            figures[f"rss_growth_{count}_{method}_bytes"] = (run["peak_kib"] - run["before_kib"]) * 1024
        ratios[f"peak_rss_{sizes[-1] // 1000}k_vs_{sizes[0] // 1000}k_{method}"] = runs[sizes[-1]]["peak_kib"] / runs[sizes[0]]["peak_kib"]
    return figures, ratios


def main() -> None:
    """Measure and report."""

    def options(parser) -> None:
        parser.add_argument("--samples", type=int, default=10_000, help="samples of the accuracy and speed comparisons")
        parser.add_argument("--reference-samples", type=int, default=3000, help="samples of the NumPy reference (n x n Grams)")
        parser.add_argument("--memory-samples", type=int, nargs=2, default=[10_000, 50_000], help="the two sizes compared")
        parser.set_defaults(repeat=3)

    args = parse_args(__doc__.splitlines()[0], options)
    if importlib.util.find_spec("torch_cka") is None:  # an import here would make the name local to main()
        sys.exit("benchmarks/similarity.py compares with torch-cka: pip install -c constraints.txt -e '.[bench]'")
    model, (x, source) = mlp(), images(args.samples)
    spec = DataSpec(datasets=lambda split: samples(x))
    minibatch = Ours(model, spec, method="minibatch", group_size=GROUP, bootstrap=0)
    exact, default = Ours(model, spec, bootstrap=0), Ours(model, spec)
    ours = minibatch()["cka"]
    figures = {"data": source, "samples": len(x), "layers": len(LAYERS), "group_size": GROUP,
               "reference_samples": args.reference_samples,
               "reference_max_abs_diff": against_reference(model, spec, args.reference_samples),
               "torch_cka_max_abs_diff": float(np.abs(torch_cka(model, x, torch.float64) - ours).max()),
               "torch_cka_float32_max_abs_diff": float(np.abs(torch_cka(model, x) - ours).max()),
               "default_method": default()["method"]}
    replay, index = Replay(model, x), torch.arange(len(x), dtype=torch.float32)
    replay_spec = DataSpec(datasets=lambda split: samples(index))
    times = paired_times({"torch_cka": lambda: torch_cka(model, x), "minibatch": minibatch, "exact": exact,
                          "replay_torch_cka": lambda: torch_cka(replay, index),
                          "replay_minibatch": Ours(replay, replay_spec, method="minibatch", group_size=GROUP, bootstrap=0),
                          "replay_exact": Ours(replay, replay_spec, bootstrap=0), "bare_pass": lambda: bare_pass(model, spec),
                          "default": default}, args.repeat)
    figures.update({f"{name}_s": summary(values) for name, values in times.items()})
    ratios = {f"{prefix}torch_cka_vs_{method}": paired_ratio(times[f"{prefix}torch_cka"], times[f"{prefix}{method}"])["median"]
              for prefix in ("", "replay_") for method in ("minibatch", "exact")}
    ratios["default_vs_exact"] = paired_ratio(times["default"], times["exact"])["median"]
    memory, memory_ratios = memory_figures(sorted(args.memory_samples))
    figures.update(memory)
    ratios.update(memory_ratios)
    print(f"reference diff {figures['reference_max_abs_diff']:.1e} (goal <= 1e-5); torch-cka diff float64 "
          f"{figures['torch_cka_max_abs_diff']:.1e} (goal <= 1e-4), float32 {figures['torch_cka_float32_max_abs_diff']:.1e}")
    print(f"torch-cka {figures['torch_cka_s']['median']:.2f}s, ours minibatch {figures['minibatch_s']['median']:.3f}s "
          f"({ratios['torch_cka_vs_minibatch']:.1f}x, goal >= 10), exact {figures['exact_s']['median']:.3f}s "
          f"({ratios['torch_cka_vs_exact']:.1f}x); from stored activations: minibatch "
          f"{ratios['replay_torch_cka_vs_minibatch']:.1f}x, exact {ratios['replay_torch_cka_vs_exact']:.1f}x")
    print(f"the default's bootstrap (1,000 resamples of 1,000 samples): x{ratios['default_vs_exact']:.2f} the exact pass")
    print("peak RSS ratios " + ", ".join(f"{k} {v:.3f}" for k, v in memory_ratios.items()) + " (goal <= 1.10)")
    write_result("similarity", figures, ratios, args.json)


if __name__ == "__main__":
    main()
