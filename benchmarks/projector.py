"""Projector export and load time: torch's ``SummaryWriter.add_embedding`` against ``latent_probe.projector``.

Same data for every export: 8,000 x 512 float32 embeddings (normal), a label column and 28x28 sprite
thumbnails. Export: ``figures.add_embedding_s``, ``figures.ours_s`` (binary ``tensors.bytes``, the
default) and ``figures.ours_tsv_s`` (``tensor_format="tsv"``); ``ratios.add_embedding_vs_ours`` =
add_embedding's time / ours (binary), per round (goal >= 15), and ``ratios.add_embedding_vs_ours_tsv``.
Load: the time TensorBoard's own ``ProjectorPlugin`` needs to serve the tensor (a fresh plugin reads the
config and the tensor file, then answers ``/tensor``) from our TSV export (``figures.serve_tsv_s``),
from our binary export (``figures.serve_binary_s``) and from add_embedding's export
(``figures.serve_add_embedding_s``); ``ratios.serve_tsv_vs_binary``. ``figures.max_abs_diff``: the
largest difference between a served tensor and the original (per export in ``max_abs_diff_by_export``).
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import numpy as np
import torch
from _harness import paired_ratio, paired_times, parse_args, summary, write_result
from tensorboard.plugins import base_plugin
from tensorboard.plugins.projector.projector_plugin import ProjectorPlugin
from torch.utils.tensorboard import SummaryWriter
from werkzeug.test import Client

from latent_probe.artifacts.projector import write_embedding

ROWS, DIM = 8000, 512
GOAL = 15


def export_with_torch(root: Path, embeddings: torch.Tensor, labels: list[str], images: torch.Tensor) -> Path:
    """The stock way: one SummaryWriter.add_embedding call (tensors.tsv)."""
    folder = Path(tempfile.mkdtemp(dir=root))
    with SummaryWriter(str(folder)) as writer:
        writer.add_embedding(embeddings, metadata=labels, label_img=images, tag="layer")
    return folder


def export_with_ours(root: Path, embeddings: np.ndarray, labels: list[str], images: torch.Tensor,
                     tensor_format: str = "binary") -> Path:
    """latent-probe's writer (what the embedding dumper calls)."""
    folder = Path(tempfile.mkdtemp(dir=root))
    write_embedding(folder, "projector/layer", "layer", embeddings, {"label": labels}, images, tensor_format=tensor_format)
    return folder


def serve(folder: Path) -> np.ndarray:
    """The tensor TensorBoard's projector plugin serves from ``folder``, read cold (a fresh plugin, empty cache)."""
    plugin = ProjectorPlugin(base_plugin.TBContext(logdir=str(folder), data_provider=None))  # the folder is run "."
    plugin._update_configs()  # what the plugin does on its first request; reads the tensor file
    embedding = plugin._configs["."].embeddings[0]
    response = Client(plugin.get_plugin_apps()["/tensor"]).get(f"/tensor?run=.&name={embedding.tensor_name}")
    assert response.status_code == 200, response.data[:200]
    return np.frombuffer(response.data, dtype=np.float32).reshape(list(embedding.tensor_shape))


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
            "ours_tsv": lambda: export_with_ours(root, embeddings, labels, images, "tsv"),
        }, args.repeat)
        exports = {
            "tsv": export_with_ours(root, embeddings, labels, images, "tsv"),
            "binary": export_with_ours(root, embeddings, labels, images),
            "add_embedding": export_with_torch(root, as_tensor, labels, images),
        }
        assert next(exports["binary"].rglob("tensors.bytes")), "the binary export must not have fallen back to TSV"
        serve_times = paired_times({name: (lambda folder=folder: serve(folder)) for name, folder in exports.items()}, args.repeat)
        diffs = {name: float(np.abs(serve(folder) - embeddings).max()) for name, folder in exports.items()}
    finally:
        shutil.rmtree(root, ignore_errors=True)
    figures = {f"{name}_s": summary(values) for name, values in times.items()}
    figures.update({f"serve_{name}_s": summary(values) for name, values in serve_times.items()})
    figures["max_abs_diff"] = max(diffs.values())
    figures["max_abs_diff_by_export"] = diffs
    figures["shape"] = [ROWS, DIM]
    ratios = {
        "add_embedding_vs_ours": paired_ratio(times["add_embedding"], times["ours"])["median"],
        "add_embedding_vs_ours_tsv": paired_ratio(times["add_embedding"], times["ours_tsv"])["median"],
        "serve_tsv_vs_binary": paired_ratio(serve_times["tsv"], serve_times["binary"])["median"],
    }
    median = {name: figures[name]["median"] for name in figures if name.endswith("_s")}
    print(f"export: add_embedding {median['add_embedding_s']:.2f}s  ours (binary) {median['ours_s']:.3f}s  "
          f"ours (tsv) {median['ours_tsv_s']:.2f}s  ratio {ratios['add_embedding_vs_ours']:.1f}x (goal >= {GOAL}), "
          f"vs ours tsv {ratios['add_embedding_vs_ours_tsv']:.1f}x")
    print(f"serve:  tsv {median['serve_tsv_s']:.2f}s  binary {median['serve_binary_s']:.3f}s  "
          f"add_embedding's tsv {median['serve_add_embedding_s']:.2f}s  ratio {ratios['serve_tsv_vs_binary']:.1f}x  "
          f"max |diff| {figures['max_abs_diff']:.2e} ({', '.join(f'{k} {v:.1e}' for k, v in diffs.items())})")
    write_result("projector", figures, ratios, args.json)


if __name__ == "__main__":
    main()
