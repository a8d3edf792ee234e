"""Layer similarity: linear CKA (Kornblith et al., ICML 2019) between every pair of chosen layers over a whole split.

A streaming probe: it keeps per-layer sums and cross-products (``analysis/cka.py``), or for wide layers the summed
unbiased HSIC of groups of samples (``analysis/minibatch_cka.py``), never the split's activations, so memory does not
grow with the number of samples, and the sums reduced across processes give 1 and N processes the same exact matrix.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import torch
from torch import nn

from latent_probe.analysis.cka import MAX_EXACT_WIDTH, METHODS, choose_method, cka_matrix, fold, initial_statistics
from latent_probe.analysis.cka_bootstrap import INTERVALS, KERNELS, LEVEL, bootstrap_interval, gram_matrices, sample_cka
from latent_probe.analysis.minibatch_cka import MIN_GROUP, GroupCutter, fold_groups, initial_hsic, minibatch_cka
from latent_probe.errors import ConfigError, check_memory, check_range, require_choice
from latent_probe.probing import Activations, Batch, Firing, MomentWriter, Probe, StreamState
from latent_probe.probing.layers import activation_modules
from latent_probe.registry import register_probe
from latent_probe.viz.matrix_heatmap import interval_heatmap, matrix_heatmap

if TYPE_CHECKING:
    from latent_probe.dataspec import DataSpec
    from latent_probe.probing.setup_pass import SetupPass

MAX_SAMPLE = 4096  # the sample's Gram matrices: layers x samples^2 float64, and a product per pair of layers per resample
ESTIMATORS = {
    "exact": "linear CKA, exact (feature-space sufficient statistics over the whole split)",
    "minibatch": "linear CKA, unbiased minibatch HSIC estimator (Nguyen, Raghu & Kornblith 2021) over groups of samples",
}


class GroupedState(StreamState):
    """The estimator's sums plus this process's unfinished group (held here, never reduced across processes)."""

    needs_random_order = True  # groups of consecutive samples: in dataset order, a class-sorted split gives one-class groups

    def __init__(self, group_size: int) -> None:
        super().__init__()
        self.cutter = GroupCutter(group_size)


@register_probe()
class LayerSimilarity(Probe):
    """Linear CKA between every pair of chosen layers over a whole split: how alike their representations are.

    CKA is 1 for representations equal up to a rotation and an isotropic scaling and near 0 for unrelated ones. With
    ``method: exact`` it is computed exactly from float64 sums and cross-products of the stored (pooled) features, for
    layers of at most ``MAX_EXACT_WIDTH`` (2,048) features. With ``method: minibatch`` it is the unbiased minibatch
    HSIC estimator (Nguyen, Raghu & Kornblith, ICLR 2021) over groups of ``group_size`` consecutive samples of each
    process (each process's last, smaller group left out), the pass visiting the samples in a seeded random order so
    that each group is a random draw (whatever the dataset's order: sorted by class, say): any width, memory
    ``group_size`` rows per layer; its value depends on the grouping, so 1 and N processes differ by the estimator's
    noise. ``auto`` is exact when every layer
    fits, else the estimator for the whole matrix.

    On a seeded sample of ``bootstrap_samples`` of the split, gathered in the same pass, it also computes CKA with
    ``kernel`` (``linear``, or ``rbf`` with sigma ``rbf_sigma`` x the median distance between examples) and, with
    ``bootstrap`` resamples, its 95 % bootstrap interval per pair (``basic`` by default): the uncertainty of CKA on that
    many samples (the whole split's CKA varies less when the split is larger). In simulations with a known CKA the basic
    interval covers 95 % up to about 32 features per layer on 1,000 samples, but only 69 % at 128 features: raise
    ``bootstrap_samples`` for wide layers. On 8 layers of 1,000 samples, 1,000 resamples take about a second on one CPU
    thread (more with more layers: a product per pair); ``bootstrap: 0`` turns it off.

    Writes ``similarity.npz`` (``cka``, ``layers``, ``n_samples``, ``method``; ``sample_cka``, ``cka_lower``,
    ``cka_upper``, ``sample_n_samples`` for the sample), ``similarity.json`` (the same, the groups used, the sample's
    kernel), the heatmap ``similarity.png`` of ``cka`` (also in TensorBoard; with a bootstrap, each cell also holds the
    sample's interval where the cells are wide enough, and ``similarity_interval.png`` maps the intervals' widths) and
    TensorBoard scalars
    ``<name>/<layer>/next``: each layer's CKA with the next one. The method (and the estimator's group size and number
    of groups, the sample's kernel, size and resamples) is also in the moment's ``manifest.json``.

    Args:
        max_samples: samples read (default: the whole split, streamed).
        method: ``auto``, ``exact`` or ``minibatch``.
        group_size: samples per group of the minibatch estimator (at least 4: it divides by ``group_size - 3``).
        bootstrap: bootstrap resamples of the sample (0: no interval).
        bootstrap_samples: size of the sample (at most 4,096: it holds a samples x samples Gram matrix per layer).
        kernel: the sample's kernel, ``linear`` or ``rbf``.
        rbf_sigma: the RBF kernel's width as a fraction of the median distance between the sample's examples.
        interval: ``basic`` (the resampled quantiles reflected about the sample's CKA: corrects CKA's upward bias on
            small samples) or ``percentile`` (the quantiles themselves: cover too rarely when layers are wide).
        **kwargs: the shared options of ``Probe``.
    """

    streams = True

    def __init__(self, max_samples: int | None = None, method: Literal["auto", "exact", "minibatch"] = "auto",
                 group_size: int = 256, bootstrap: int = 1000, bootstrap_samples: int = 1000,
                 kernel: Literal["linear", "rbf"] = "linear", rbf_sigma: float = 1.0,
                 interval: Literal["basic", "percentile"] = "basic", **kwargs: Any) -> None:
        super().__init__(max_samples=max_samples, **kwargs)
        self.method, self.kernel = require_choice("method", method, METHODS), require_choice("kernel", kernel, KERNELS)
        self.interval = require_choice("interval", interval, INTERVALS)
        check_range("group_size", group_size, minimum=MIN_GROUP)
        check_range("bootstrap", bootstrap, minimum=0, maximum=100_000)
        check_range("bootstrap_samples", bootstrap_samples, minimum=MIN_GROUP, maximum=MAX_SAMPLE)
        check_range("rbf_sigma", rbf_sigma, positive=True)
        self.group_size, self.bootstrap, self.bootstrap_samples, self.rbf_sigma = group_size, bootstrap, bootstrap_samples, rbf_sigma

    def gathered_samples(self) -> int | None:
        """The seeded sample of ``bootstrap_samples`` for the bootstrap or the RBF kernel, gathered beside the stream."""
        return self.bootstrap_samples if self.bootstrap or self.kernel == "rbf" else 0

    def default_layers(self, model: nn.Module) -> list[str]:
        """Every activation module, in model order."""
        return activation_modules(model)

    def widths(self) -> dict[str, int]:
        """Each layer's stored (pooled) features, from the setup pass."""
        return {layer: self.pooling.width(self.layer_shapes[layer]) for layer in self.layers if layer in self.layer_shapes}

    def check(self, spec: DataSpec, model: nn.Module, setup_pass: SetupPass | None) -> None:
        """Refuse a layer too wide for ``method: exact`` and a split smaller than one group of the estimator."""
        size = len(spec.dataset(self.split))  # type: ignore[arg-type]
        samples = size if self.max_samples is None else min(size, self.max_samples)
        if choose_method(self.method, self.widths()) == "minibatch" and samples < self.group_size:
            raise ConfigError(f"group_size {self.group_size} is more than the {samples} samples of the {self.split} split "
                              f"the minibatch estimator reads; lower group_size (at least {MIN_GROUP})")
        if self.gathered_samples():
            rows = min(size, self.bootstrap_samples)
            check_memory("bootstrap_samples", self.bootstrap_samples, 12 * len(self.layers) * rows**2,
                         f"the sample's Gram matrices ({len(self.layers)} layers)")

    def start_stream(self, widths: dict[str, int]) -> StreamState:
        """Exact: a count, feature sums and per pair ``X^T Y``; minibatch: a count, the groups and the summed HSIC_1."""
        if choose_method(self.method, widths) == "exact":
            state, stats = StreamState(), initial_statistics([widths[layer] for layer in self.layers])
        else:
            state, stats = GroupedState(self.group_size), initial_hsic(len(self.layers))
        for key, value in stats.items():
            state.add(key, value)
        return state

    def update(self, state: StreamState, outputs: dict[str, torch.Tensor], batch: Batch) -> None:
        """Fold one batch's outputs into the state (every state is a float64 sum)."""
        values = [outputs[layer] for layer in self.layers]
        if isinstance(state, GroupedState):
            fold_groups(state.values, state.cutter, values)
        else:
            fold(state.values, values)

    def compute(self, firing: Firing) -> dict[str, Any]:
        """The CKA matrix from the reduced state, with what the method used; the sample's CKA and interval (rank 0)."""
        result = self.streamed(firing.stream)
        if self.gathered_samples():
            sample = firing.activations()  # gathered from every rank: every rank takes part
            if firing.is_global_zero:  # only rank 0 writes: the others need not resample
                result["sample"] = self.on_sample(sample, firing.device)
        return result

    def on_sample(self, sample: Activations, device: torch.device) -> dict[str, Any]:
        """CKA of the sample with ``kernel`` and, with ``bootstrap`` resamples, its 95 % percentile interval."""
        grams = gram_matrices([sample.outputs[layer].to(device) for layer in self.layers], self.kernel, self.rbf_sigma)
        result = {"kernel": self.kernel, "n_samples": len(sample), "cka": sample_cka(grams)}
        if self.kernel == "rbf":
            result["rbf_sigma"] = self.rbf_sigma
        if self.bootstrap:
            lower, upper = bootstrap_interval(grams, self.bootstrap, self.seed, method=self.interval)
            result["bootstrap"] = {"resamples": self.bootstrap, "level": LEVEL, "interval": self.interval, "seed": self.seed,
                                   "lower": lower, "upper": upper}
        return result

    def streamed(self, state: StreamState) -> dict[str, Any]:
        """The whole split's CKA matrix from the reduced state, with what the method used."""
        stats = {key: value.cpu() for key, value in state.values.items()}
        result = {"count": int(stats["count"]), "layers": list(self.layers)}
        if not isinstance(state, GroupedState):
            return {**result, "cka": cka_matrix(stats), "method": "exact"}
        groups = int(stats["groups"])
        if groups == 0:
            raise ConfigError(f"no process read {self.group_size} samples (group_size) of the {self.split} split "
                              f"({result['count']} in all); lower group_size (at least {MIN_GROUP})")
        return {**result, "cka": minibatch_cka(stats), "method": "minibatch", "groups": groups,
                "group_size": self.group_size, "left_out": result["count"] - groups * self.group_size}

    def write(self, result: dict[str, Any], out: MomentWriter) -> None:
        """``similarity.npz``, ``similarity.json``, the manifest's method, the heatmap and each layer's CKA with the next."""
        layers, matrix, method = result["layers"], result["cka"], result["method"]
        how = {"method": method, "estimator": ESTIMATORS[method], "max_exact_width": MAX_EXACT_WIDTH}
        if method == "minibatch":
            how.update(group_size=result["group_size"], groups=result["groups"], samples_left_out=result["left_out"])
        sample = result.get("sample")
        out.note(similarity={**how, **({"sample": sample_manifest(sample)} if sample else {})})
        out.npz("similarity.npz", {"cka": matrix, "layers": np.array(layers), "n_samples": np.array(result["count"]),
                                   "method": np.array(method), **(sample_arrays(sample) if sample else {})})
        out.json("similarity.json", {"split": self.split, "n_samples": result["count"], **how, "layers": layers,
                                     "cka": as_json(matrix), **({"sample": sample_json(sample)} if sample else {})})
        self._pictures(layers, result, out)
        out.scalars({f"{self.name}/{layer}/next": matrix[i, i + 1] for i, layer in enumerate(layers[:-1])
                     if np.isfinite(matrix[i, i + 1])})


    def _pictures(self, layers: list[str], result: dict[str, Any], out: MomentWriter) -> None:
        """The heatmap (the sample's intervals in its cells where they fit) and, when bootstrapped, the intervals' widths."""
        title = f"{self.name}: linear CKA between layers ({self.split}, {result['count']} samples)"
        bootstrap = result.get("sample", {}).get("bootstrap")
        if bootstrap is None:
            out.png("similarity.png", matrix_heatmap(layers, layers, result["cka"], title), tag=f"{self.name}/cka")
            return
        bounds, level = (bootstrap["lower"], bootstrap["upper"]), f"{bootstrap['level']:.0%}"
        sample = f"a {result['sample']['n_samples']}-sample sample"
        out.png("similarity.png", matrix_heatmap(layers, layers, result["cka"], f"{title}; [ ]: {level} interval on {sample}",
                                                 intervals=bounds), tag=f"{self.name}/cka")
        out.png("similarity_interval.png", interval_heatmap(layers, layers, *bounds,
                                                            f"{self.name}: width of CKA's {level} interval on {sample}"),
                tag=f"{self.name}/cka_interval_width")


def as_json(matrix: np.ndarray) -> list[list[float | None]]:
    """A matrix as JSON rows, NaN (undefined) as null."""
    return [[float(v) if np.isfinite(v) else None for v in row] for row in matrix]


def sample_manifest(sample: dict[str, Any]) -> dict[str, Any]:
    """What the manifest says of the sample: kernel, size, resamples and the interval's kind."""
    bootstrap = sample.get("bootstrap")
    return {"kernel": sample["kernel"], "n_samples": sample["n_samples"], "resamples": bootstrap["resamples"] if bootstrap else 0,
            **({"interval": bootstrap["interval"]} if bootstrap else {})}


def sample_arrays(sample: dict[str, Any]) -> dict[str, np.ndarray]:
    """The sample's arrays for the NPZ: its CKA, the interval's bounds (when bootstrapped) and its size."""
    arrays = {"sample_cka": sample["cka"], "sample_n_samples": np.array(sample["n_samples"])}
    if "bootstrap" in sample:
        arrays.update(cka_lower=sample["bootstrap"]["lower"], cka_upper=sample["bootstrap"]["upper"])
    return arrays


def sample_json(sample: dict[str, Any]) -> dict[str, Any]:
    """The sample's part of similarity.json, matrices as rows with null for NaN."""
    summary = {**sample, "cka": as_json(sample["cka"])}
    if "bootstrap" in sample:
        bounds = sample["bootstrap"]
        summary["bootstrap"] = {**bounds, "lower": as_json(bounds["lower"]), "upper": as_json(bounds["upper"])}
    return summary
