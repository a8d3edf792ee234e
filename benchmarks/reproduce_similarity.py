"""Issue 26's reproduction rows: representation similarity answering the seed articles' questions (000, 002, 003).

Read from the runs' probe files (``similarity.npz`` of LayerSimilarity, ``drift.npz`` of RepresentationDrift, both at
``fit_end``) into the JSON report, and rendered from it: every number in the sentences comes from those files.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

# (run, file under probes/, image name in docs/reproduction/, caption)
IMAGES = [
    ("bottleneck2d_relu_s0", "layer_similarity/fit_end/similarity.png", "000_bottleneck_layer_similarity.png",
     "000: linear CKA between the bottleneck CNN's layers (ReLU, seed 0, whole test split)"),
    ("sda", "representation_drift/fit_end/drift.png", "002_sda_representation_drift.png",
     "002: each SdA hidden layer at the end of fine-tuning against itself at every earlier epoch and at its initial weights"),
    ("quickstart", "layer_similarity/fit_end/similarity.png", "003_quickstart_layer_similarity.png",
     "003: linear CKA between the ring network's tanh layers (quickstart, width 3, depth 10)"),
]
FILES = {"layer_similarity": "layer_similarity/fit_end/similarity.npz", "representation_drift": "representation_drift/fit_end/drift.npz"}


def similarity_figures(fit_dir: Path) -> dict:
    """The similarity matrices a run's probes wrote at ``fit_end`` (absent probes give nothing)."""
    found = {}
    for probe, name in FILES.items():
        path = fit_dir / "probes" / name
        if path.is_file():
            with np.load(path, allow_pickle=False) as data:
                found[probe] = {key: data[key].tolist() for key in data.files}
    return found


def _cka(figures: dict, row: str, column: str, rows: str = "layers", columns: str = "layers") -> float:
    return float(np.asarray(figures["cka"])[figures[rows].index(row), figures[columns].index(column)])


def text_000(run: dict) -> str:
    """Seed 000: how alike each layer is to the 2-unit layer's output."""
    sim = run.get("probe", {}).get("layer_similarity")
    if not sim:
        return ""
    target = "bottleneck_act"
    values = ", ".join(f"`{layer}` {_cka(sim, layer, target):.2f}" for layer in sim["layers"] if layer != target)
    return (f"**000, where the 2-D code's geometry appears** (run `bottleneck2d_relu_s0`, {sim['n_samples']:,} test images): "
            f"linear CKA of each layer with the 2-unit layer's output `{target}`: {values}.")


def text_002(run: dict) -> str:
    """Seed 002: how much each pretrained layer changes when fine-tuned."""
    drift = run.get("probe", {}).get("representation_drift")
    if not drift or "epoch=0003" not in drift["moments"]:
        return ""
    parts = [f"`{layer}` {_cka(drift, layer, 'epoch=0003', columns='moments'):.2f} "
             f"(against its initial weights {_cka(drift, layer, 'initial', columns='moments'):.2f})" for layer in drift["layers"]]
    return (f"**002, do the pretrained layers change when fine-tuned?** (run `sda`, {drift['n_samples']:,} validation images): "
            "linear CKA of each hidden layer at the end of fine-tuning with itself at the end of pretraining (`epoch=0003`, "
            f"the `pretrain_end` event): {', '.join(parts)}. The picture shows every epoch.")


def text_003(run: dict) -> str:
    """Seed 003: which steps of the narrow network bend the space, layer to layer."""
    sim = run.get("probe", {}).get("layer_similarity")
    if not sim:
        return ""
    cka, layers = np.asarray(sim["cka"]), sim["layers"]
    adjacent = [float(cka[i, i + 1]) for i in range(len(layers) - 1)]
    low = int(np.argmin(adjacent))
    return (f"**003, layer by layer** (run `quickstart`, {sim['n_samples']:,} validation points): linear CKA of each tanh layer "
            f"with the next ranges from {min(adjacent):.2f} (`{layers[low]}` → `{layers[low + 1]}`, the step that bends the "
            f"space most) to {max(adjacent):.2f}; the first and the last layer: {float(cka[0, -1]):.2f}.")


def similarity_section(report: dict) -> list[str]:
    """The Markdown lines of the section (empty when no run has the figures)."""
    runs = report.get("runs", {})
    sentences = [text for text in (text_000(runs.get("bottleneck2d_relu_s0", {})), text_002(runs.get("sda", {})),
                                   text_003(runs.get("quickstart", {}))) if text]
    if not sentences:
        return []
    return ["## Representation similarity", "",
            "Linear CKA (Kornblith et al., 2019) from the shipped configs' `LayerSimilarity` and `RepresentationDrift` probes, "
            "exact over the whole split (pictures below).", "", *[f"- {text}" for text in sentences], ""]
