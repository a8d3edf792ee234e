"""Projector export time: torch's ``SummaryWriter.add_embedding`` against ``latent_probe.projector``.

Same data for both: 8,000 x 512 float32 embeddings, a label column and 28x28 sprite thumbnails.
``ratios.add_embedding_vs_ours`` = add_embedding's time / ours, per round (goal >= 3).
``figures.max_abs_diff`` compares the tensors TensorBoard would read back from both exports.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import numpy as np
import torch
from _harness import paired_ratio, paired_times, parse_args, summary, write_result
from torch.utils.tensorboard import SummaryWriter

from latent_probe.artifacts.projector import write_embedding

ROWS, DIM = 8000, 512


def export_with_torch(root: Path, embeddings: torch.Tensor, labels: list[str], images: torch.Tensor) -> Path:
    """The stock way: one SummaryWriter.add_embedding call."""
    folder = Path(tempfile.mkdtemp(dir=root))
    with SummaryWriter(str(folder)) as writer:
        writer.add_embedding(embeddings, metadata=labels, label_img=images, tag="layer")
    return folder


def export_with_ours(root: Path, embeddings: np.ndarray, labels: list[str], images: torch.Tensor) -> Path:
    """latent-probe's writer (what the embedding dumper calls)."""
    folder = Path(tempfile.mkdtemp(dir=root))
    write_embedding(folder, "projector/layer", "layer", embeddings, {"label": labels}, images)
    return folder


def read_tsv(path: Path) -> np.ndarray:
    """Parse a tensors.tsv the way TensorBoard's projector plugin does (float32 rows)."""
    return np.loadtxt(path, delimiter="\t", dtype=np.float32)


def main() -> None:
    """Measure and report."""
    args = parse_args(__doc__.splitlines()[0])
    rng = np.random.default_rng(0)
    embeddings = rng.normal(size=(ROWS, DIM)).astype(np.float32)
    labels = [str(i % 10) for i in range(ROWS)]
    images = torch.rand(ROWS, 1, 28, 28)
    root = Path(tempfile.mkdtemp(prefix="projector-bench-"))
    try:
        as_tensor = torch.from_numpy(embeddings)
        times = paired_times({
            "add_embedding": lambda: export_with_torch(root, as_tensor, labels, images),
            "ours": lambda: export_with_ours(root, embeddings, labels, images),
        }, args.repeat)
        theirs = read_tsv(next(export_with_torch(root, as_tensor, labels, images).rglob("tensors.tsv")))
        ours = read_tsv(next(export_with_ours(root, embeddings, labels, images).rglob("tensors.tsv")))
    finally:
        shutil.rmtree(root, ignore_errors=True)
    figures = {f"{name}_s": summary(values) for name, values in times.items()}
    figures["max_abs_diff"] = float(np.abs(theirs - ours).max())
    figures["shape"] = [ROWS, DIM]
    ratios = {"add_embedding_vs_ours": paired_ratio(times["add_embedding"], times["ours"])["median"]}
    print(f"add_embedding {figures['add_embedding_s']['median']:.2f}s  ours {figures['ours_s']['median']:.2f}s  "
          f"ratio {ratios['add_embedding_vs_ours']:.1f}x (goal >= 3)  max |diff| {figures['max_abs_diff']:.2e}")
    write_result("projector", figures, ratios, args.json)


if __name__ == "__main__":
    main()
