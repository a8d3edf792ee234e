"""Influence maps of seed 004's 784-50-100-10 sigmoid MLP: our batched probe against the seed's loop and Captum.

``ratios.vs_loop``: the seed's algorithm (numpy, one forward of the whole network per pixel and image, every
node read at once, as in the article) divided by ``influence_maps`` (inclusion mode, all-zero reference),
on the same images and all 160 nodes (z1 = act1, z2 = act2, a3 = fc3). Goal: >= 50.
``ratios.vs_captum``: Captum's ``FeatureAblation`` called once for all nodes and images the way a user would
(``inputs=0, baselines=x``, default options: the same numbers negated) divided by ours, in rounds of their
own (``--captum-repeat``: a Captum call takes about a minute here). Goal: >= 250.
``ratios.vs_plain_batched``: a batched version without our two savings (every pixel, whole model: 784
single-pixel inputs per image) divided by ours. ``figures.max_abs_diff_*``: largest difference of the maps.
Data: the first images of the offline MNIST-10k test split, else random sparse images. Torch runs on
``--threads`` threads (default 1: on a small shared machine a busy core stalls every OpenMP thread).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from _harness import paired_ratio, paired_times, parse_args, summary, write_result

from latent_probe.models import MLPClassifier
from latent_probe.models.external_weights import dense_weights
from latent_probe.probes.influence.maps import influence_maps
from latent_probe.probing import recorded_outputs as capture_outputs

MNIST10K = Path(__file__).resolve().parents[2] / "shared" / "data" / "mnist10k"
LAYERS = ["act1", "act2", "fc3"]  # the seed's z1, z2 and pre-softmax a3: 50 + 100 + 10 nodes
IMAGE_SHAPE = (1, 28, 28)


def images(count: int) -> tuple[torch.Tensor, str]:
    """``(count, 784)`` pixels/255 of MNIST test images (or random sparse ones), and where they came from."""
    if (MNIST10K / "MNIST" / "raw").is_dir():
        from torchvision.datasets import MNIST

        return MNIST(str(MNIST10K), train=False, download=False).data[:count].float().div(255).reshape(count, 784), "MNIST-10k test"
    pixels = torch.rand(count, 784, generator=torch.Generator().manual_seed(0))
    return pixels * (pixels > 0.8), "random, 20 % of pixels lit"


def seed_loop(arrays: dict[str, np.ndarray], x: np.ndarray) -> np.ndarray:
    """The article's algorithm: for every image and pixel, an image holding only that pixel, through ``predict``."""

    def predict(v: np.ndarray) -> np.ndarray:
        z1 = 1 / (1 + np.exp(-(v @ arrays["W1"] + arrays["b1"])))
        z2 = 1 / (1 + np.exp(-(z1 @ arrays["W2"] + arrays["b2"])))
        return np.concatenate([z1, z2, z2 @ arrays["W3"] + arrays["b3"]])

    base = predict(np.zeros(784, dtype=np.float32))
    maps = np.empty((len(x), len(base), 784), dtype=np.float32)
    for i, image in enumerate(x):
        for p in range(784):
            single = np.zeros(784, dtype=np.float32)
            single[p] = image[p]
            maps[i, :, p] = predict(single) - base
    return maps


@torch.no_grad()
def plain_batched(model: MLPClassifier, x: torch.Tensor) -> np.ndarray:
    """One batch of 784 single-pixel inputs per image through the whole model, nothing skipped."""
    maps = []
    with capture_outputs(model, LAYERS) as records:
        model(torch.zeros(1, 784))
        base = torch.cat([records[p].pop() for p in LAYERS], 1)
        for image in x:
            model(torch.diag(image))
            maps.append((torch.cat([records[p].pop() for p in LAYERS], 1) - base).t())
    return torch.stack(maps).numpy()


def ours(model: MLPClassifier, x: torch.Tensor, shortcut: bool = True) -> dict[str, torch.Tensor]:
    """The probe's computation: ``{layer: (n, nodes, 28, 28)}``, as the probe gets it."""
    return influence_maps(model, x, torch.zeros(784), LAYERS, IMAGE_SHAPE, shortcut=shortcut)


def as_array(maps) -> np.ndarray:
    """Any variant's result as one ``(n, 160, 784)`` array (outside the timings)."""
    if isinstance(maps, dict):
        return torch.cat([maps[p].reshape(len(maps[p]), -1, 784) for p in LAYERS], 1).numpy()
    return np.asarray(maps)


def captum_all_nodes(model: MLPClassifier, x: torch.Tensor):
    """Captum's ``FeatureAblation`` for every node at once, negated to match ours; None without Captum."""
    try:
        from captum.attr import FeatureAblation
    except ImportError:
        return None

    def all_nodes(v: torch.Tensor) -> torch.Tensor:
        z1 = model.act1(model.fc1(v))
        z2 = model.act2(model.fc2(z1))
        return torch.cat([z1, z2, model.fc3(z2)], 1)

    def run() -> np.ndarray:
        with torch.no_grad():
            attributions = FeatureAblation(all_nodes).attribute(torch.zeros_like(x), baselines=x)
        return -attributions.reshape(len(x), -1, 784).numpy()

    return run


def main() -> None:
    """Measure and report."""

    def options(parser) -> None:
        parser.add_argument("--images", type=int, default=100, help="images to map")
        parser.add_argument("--captum-repeat", type=int, default=3, help="rounds of ours against Captum (a minute each)")
        parser.set_defaults(repeat=10)

    args = parse_args(__doc__.splitlines()[0], options)
    torch.manual_seed(0)
    model = MLPClassifier().eval()
    arrays = dense_weights(model.linears)  # the seed's W1, b1, ... layout (x·W + b), float32
    x, source = images(args.images)
    variants = {
        "ours": lambda: ours(model, x),
        "ours_no_shortcut": lambda: ours(model, x, shortcut=False),
        "plain_batched": lambda: plain_batched(model, x),
        "loop": lambda: seed_loop(arrays, x.numpy()),
    }
    results = {name: as_array(fn()) for name, fn in variants.items()}  # also the warm-up round
    times = paired_times(variants, args.repeat, warmup=0)
    ratios = {f"vs_{name}": paired_ratio(times[name], times["ours"])["median"] for name in variants if name != "ours"}
    ratios["plain_batched_vs_loop"] = paired_ratio(times["loop"], times["plain_batched"])["median"]
    figures = {f"{name}_s": summary(values) for name, values in times.items()}
    captum = captum_all_nodes(model, x)
    if captum is None:
        print("captum is not installed: its comparison is skipped (pip install captum)")
    else:
        # Separate, fewer rounds: one Captum call takes about a minute here.
        results["captum"] = captum()
        paired = paired_times({"ours": variants["ours"], "captum": captum}, args.captum_repeat, warmup=0)
        figures["captum_s"], figures["ours_in_captum_rounds_s"] = summary(paired["captum"]), summary(paired["ours"])
        ratios["vs_captum"] = paired_ratio(paired["captum"], paired["ours"])["median"]
    for name, maps in results.items():
        if name != "ours":
            figures[f"max_abs_diff_vs_{name}"] = float(np.abs(results["ours"] - maps).max())
    figures.update(images=len(x), data=source, nodes=results["ours"].shape[1],
                   single_pixel_inputs_run=int((x != 0).sum()), single_pixel_inputs_all=x.numel())
    print(f"{len(x)} images ({source}), {figures['nodes']} nodes: ours {figures['ours_s']['median'] * 1e3:.1f} ms; "
          f"loop {ratios['vs_loop']:.0f}x slower (goal >= 50), captum "
          + (f"{ratios['vs_captum']:.0f}x slower (goal >= 250)" if "vs_captum" in ratios else "skipped")
          + f"; max |diff| vs loop {figures['max_abs_diff_vs_loop']:.2g}")
    write_result("influence", figures, ratios, args.json)


if __name__ == "__main__":
    main()
