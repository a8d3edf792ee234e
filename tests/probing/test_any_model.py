"""Probes on any model and any data (issue 24): autoencoders on unlabelled data through ``fit``, post-hoc ``probe`` and the
notebook API; a segmentation net whose forward returns a dict, on images with per-pixel masks; a plain module on bare
tensors; the notebook docstring's example; and a model whose ``validation_step`` raises, probed all the same.

Every probe that needs no labels must write a complete moment; ``LinearProbe`` (labels) is refused at setup in one line,
before any folder exists. Stored values are checked against the model run by hand on the checkpoint's weights.
"""

from __future__ import annotations

import inspect
import json
import re
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch
from helpers.any_models import MaskedSquares, PlainAutoencoder, TinySegNet, UnlabelledDigits, ValidationRaises
from helpers.runs import latest_run
from helpers.tensorboard_projector import load_with_tensorboard
from torch.nn import functional as F
from werkzeug.test import Client

import latent_probe
from latent_probe.cli import notebook
from latent_probe.dataspec import infer_keys
from latent_probe.errors import ConfigError
from latent_probe.models.vae import VAE
from latent_probe.registry import PROBES, list_probes

SAMPLES = 24
# Unlabelled 8x8 digits as bare tensors; no test split: the validation split (items 96..127) serves as the test split too.
UNLABELLED = {"class_path": "DatasetDataModule", "init_args": {
    "train": {"class_path": "helpers.any_models.UnlabelledDigits", "init_args": {"start": 0, "stop": 96}},
    "val": {"class_path": "helpers.any_models.UnlabelledDigits", "init_args": {"start": 96, "stop": 128}},
    "batch_size": 16}}
VAL_ITEMS = (96, 128)  # what the probes' split (test, or val) holds

LABEL_FREE = [name for name in list_probes() if not PROBES.resolve(name).needs_labels]
NEED_LABELS = [name for name in list_probes() if PROBES.resolve(name).needs_labels]

# Per model: its CLI options, a fresh instance, the layer the embeddings are checked on and how to compute it by hand,
# and the layers of probes that have no default on it.
MODELS = {
    "autoencoder": {
        "cli": ["--model", "helpers.any_models.PlainAutoencoder"],
        "build": PlainAutoencoder,
        "code": "encoder.3",
        "by_hand": lambda model, x: model.encoder(x),
        "layers": {"EmbeddingDumper": ["encoder.3"], "InfluenceMapper": ["encoder.3"]},
    },
    "vae": {  # its probe_layers hint names encoder.mean (the latent mean) for EmbeddingDumper and InfluenceMapper
        "cli": ["--model", "VAE", "--model.in_features", "64", "--model.hidden_sizes", "[16]", "--model.latent_dim", "2"],
        "build": lambda: VAE(latent_dim=2, hidden_sizes=[16], in_features=64),
        "code": "encoder.mean",
        "by_hand": lambda model, x: model.encoder(x.flatten(1))[0],
        "layers": {},
    },
}


def small(name: str, layers: dict[str, list[str]] | None = None, **extra) -> dict:
    """A ``class_path`` dict of probe ``name``: few samples, one image to map, a short GIF, strict (a failure is raised)."""
    accepted = inspect.signature(PROBES.resolve(name)).parameters
    options = {"max_samples": SAMPLES, "strict": True, "n_images": 1, "frames_per_step": 1, "hold": 0, **extra}
    init = {key: value for key, value in options.items() if key in accepted or key in ("max_samples", "strict")}
    if layers and name in layers:
        init["layers"] = layers[name]
    return {"class_path": name, "init_args": init}


def complete(run: Path, moment: str) -> list[str]:
    """Probes with a complete ``moment`` folder in ``run``."""
    return sorted(p.parent.parent.name for p in (run / "probes").glob(f"*/{moment}/.complete"))


def folder_names(names: list[str]) -> list[str]:
    return sorted(PROBES.get(name).name for name in names)


def error_lines(err: str) -> list[str]:
    return [line for line in err.splitlines() if line.startswith("latent-probe: error:")]


def assert_refused_for_labels(result, probe_folder: str = "linear_probe") -> None:
    """Exit 2 and exactly one error line, naming the probe and its missing labels; no traceback."""
    lines = error_lines(result.err)
    assert result.code == 2 and len(lines) == 1 and "Traceback" not in result.err, result.err[-3000:]
    assert probe_folder in lines[0] and "labels" in lines[0], lines[0]


def by_hand(spec: dict, state: dict, index: np.ndarray) -> np.ndarray:
    """The checked layer's output on the validation items ``index``, by a plain forward pass of ``state``'s weights."""
    model = spec["build"]().eval()
    model.load_state_dict(state)
    items = UnlabelledDigits(*VAL_ITEMS)
    with torch.no_grad():
        return spec["by_hand"](model, torch.stack([items[int(i)] for i in index])).numpy()


def stored_embeddings(folder: Path, layer: str) -> tuple[np.ndarray, np.ndarray, list[str]]:
    with np.load(folder / "embeddings.npz") as npz:
        return npz["index"], npz[layer], list(npz.files)


# ----- 1. a VAE and a plain autoencoder, no labels: fit, post-hoc probe, notebook ----------------------------------------
@pytest.mark.parametrize("kind", list(MODELS))
def test_autoencoder_without_labels_through_fit_probe_and_notebook(kind, run_cli, tmp_path):
    spec = MODELS[kind]
    probes = json.dumps([small(name, spec["layers"]) for name in LABEL_FREE])
    data = ["--data", json.dumps(UNLABELLED)]
    fitted = run_cli("fit", *spec["cli"], *data, "--probes", probes, "--experiment", kind)
    assert fitted.code == 0 and "failed" not in fitted.err, fitted.err[-3000:]
    run = latest_run(tmp_path, kind)
    assert complete(run, "fit_end") == folder_names(LABEL_FREE)

    # Post-hoc, on the fit's checkpoint, into the same run folder.
    checkpoint = run / "checkpoints" / "last.ckpt"
    posthoc = run_cli("probe", "--config", str(run / "config.yaml"), "--ckpt_path", str(checkpoint))
    assert posthoc.code == 0 and "failed" not in posthoc.err, posthoc.err[-3000:]
    assert sorted(p.name for p in run.parent.iterdir()) == ["version_0"], "no new run folder"
    assert complete(run, "probe") == folder_names(LABEL_FREE)

    # The stored code of dataset item i is the encoder's output on item i, computed by hand on the checkpoint's weights.
    state = torch.load(checkpoint, map_location="cpu", weights_only=True)["state_dict"]
    for moment in ("fit_end", "probe"):
        index, stored, keys = stored_embeddings(run / "probes" / "embedding_dumper" / moment, spec["code"])
        assert "label" not in keys and len(index) == SAMPLES
        np.testing.assert_allclose(stored, by_hand(spec, state, index), rtol=1e-5, atol=1e-6, err_msg=moment)

    # A post-hoc LinearProbe is refused in one line; nothing is added to the run.
    before = sorted(str(p.relative_to(run)) for p in run.rglob("*"))
    refused = run_cli("probe", "--config", str(run / "config.yaml"), "--ckpt_path", str(checkpoint),
                      "--probes", json.dumps([small(name) for name in NEED_LABELS]))
    assert_refused_for_labels(refused)
    assert sorted(str(p.relative_to(run)) for p in run.rglob("*")) == before

    # The notebook API: a fresh instance given the checkpoint as its weights file.
    out = tmp_path / "runs" / "notebook"
    notebook_run = latent_probe.probe(spec["build"](), UnlabelledDigits(*VAL_ITEMS), weights=str(checkpoint), out=out,
                                      probes=[small(name, spec["layers"]) for name in LABEL_FREE], accelerator="cpu")
    assert notebook_run == (out / "version_0").resolve() and (notebook_run / "report.html").is_file()
    assert complete(notebook_run, "probe") == folder_names(LABEL_FREE)
    index, stored, _ = stored_embeddings(notebook_run / "probes" / "embedding_dumper" / "probe", spec["code"])
    np.testing.assert_allclose(stored, by_hand(spec, state, index), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("kind", list(MODELS))
def test_linear_probe_on_unlabelled_data_is_one_line_and_no_folder(kind, run_cli, tmp_path):
    spec = MODELS[kind]
    probes = json.dumps([small(name, spec["layers"]) for name in [*LABEL_FREE, *NEED_LABELS]])
    refused = run_cli("fit", *spec["cli"], "--data", json.dumps(UNLABELLED), "--probes", probes, "--experiment", kind)
    assert_refused_for_labels(refused)
    assert not (tmp_path / "runs").exists(), "no run folder left behind"
    with pytest.raises(ConfigError, match=r"linear_probe.*needs labels") as raised:
        latent_probe.probe(spec["build"](), UnlabelledDigits(*VAL_ITEMS), probes=[small(name) for name in NEED_LABELS],
                           out=tmp_path / "runs" / "notebook", accelerator="cpu")
    assert "\n" not in str(raised.value).strip()
    assert not (tmp_path / "runs").exists()


# ----- 2. a segmentation-style net whose forward returns a dict, on images with per-pixel masks -------------------------
SEGMENTATION_LAYERS = {"EmbeddingDumper": ["trunk.conv1", "trunk[features]", "head"], "FilterTiler": ["trunk.conv1"],
                       "InfluenceMapper": ["head"]}


@pytest.mark.parametrize("items", ["tuple", "dict", "dict_labels"])
def test_segmentation_net_with_dict_outputs_through_the_notebook(items, tmp_path):
    """Items are ``(image, mask)``, ``{"image", "mask"}`` or ``{"image", "labels": mask}``: a per-pixel mask is no class
    label, so every label-free probe works and ``LinearProbe`` is refused at setup."""
    torch.manual_seed(0)
    net = TinySegNet().eval()
    data = MaskedSquares(SAMPLES, as_dict=items != "tuple")
    if items == "dict_labels":
        data = [{"image": item["image"], "labels": item["mask"]} for item in data]
    out = tmp_path / "runs" / "seg"
    run = latent_probe.probe(net, data, probes=[small(name, SEGMENTATION_LAYERS) for name in LABEL_FREE], out=out,
                             accelerator="cpu")
    assert complete(run, "probe") == folder_names(LABEL_FREE)

    folder = run / "probes" / "embedding_dumper" / "probe"
    records = {row["layer"]: row for row in json.loads((folder / "manifest.json").read_text())["layers"]}
    assert set(records) == set(SEGMENTATION_LAYERS["EmbeddingDumper"])
    assert records["trunk[features]"]["part"] == "[features]" and records["trunk[features]"]["shape"] == [8, 12, 12]
    with np.load(folder / "embeddings.npz") as npz:
        assert "label" not in npz.files
        index, stored = npz["index"], {layer: npz[layer] for layer in records}
    images = torch.stack([MaskedSquares(SAMPLES).images[int(i)] for i in index])
    with torch.no_grad():
        edges = net.trunk.conv1(images)
        features = net.trunk(images)["features"]
        expected = {"trunk.conv1": edges.flatten(1), "head": net(images)["logits"].flatten(1),
                    # 968 values at most 1024 per sample: 8 channels of 11x11, average-pooled as the manifest says
                    "trunk[features]": F.adaptive_avg_pool2d(features, (11, 11)).flatten(1)}
    assert records["trunk[features]"]["stored"] == "average-pooled 8x12x12 -> 8x11x11 = 968"
    for layer, values in expected.items():
        np.testing.assert_allclose(stored[layer], values.numpy(), rtol=1e-5, atol=1e-6, err_msg=layer)

    with np.load(run / "probes" / "filter_tiler" / "probe" / "filters.npz") as npz:  # the kernels, as they are
        np.testing.assert_allclose(npz["trunk.conv1"], net.trunk.conv1.weight.detach().numpy(), rtol=1e-6)

    with pytest.raises(ConfigError, match=r"linear_probe.*needs labels"):
        latent_probe.probe(net, data, probes=[small(name, {"LinearProbe": ["trunk.act1"]}) for name in NEED_LABELS],
                           out=tmp_path / "runs" / "refused", accelerator="cpu")
    assert not (tmp_path / "runs" / "refused").exists()


def test_a_per_pixel_mask_is_no_class_label():
    """Dict items follow the tuple rule: a field under a label key counts as the label only when it is one per item."""
    image, mask = torch.zeros(3, 4, 4), torch.zeros(4, 4, dtype=torch.int64)
    assert infer_keys({"image": image, "labels": mask}) == ("image", None)
    assert infer_keys((image, mask)) == (0, None)
    assert infer_keys({"pixel_values": image, "labels": torch.tensor(2)}) == ("pixel_values", "labels")
    assert infer_keys({"pixel_values": image, "label": 2}) == ("pixel_values", "label")


# ----- 3. a plain module on bare tensors ---------------------------------------------------------------------------------
def test_plain_module_on_bare_tensors(tmp_path):
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 8), torch.nn.Tanh(), torch.nn.Linear(8, 3))
    data = UnlabelledDigits(0, 40)
    assert isinstance(data[0], torch.Tensor)
    out = tmp_path / "runs" / "bare"
    with pytest.raises(ConfigError, match=r"linear_probe.*needs labels.*HINT") as raised:
        latent_probe.probe(net, data, probes=[small("EmbeddingDumper", {"EmbeddingDumper": ["2"]}), small("LinearProbe")],
                           out=out, accelerator="cpu")
    assert "\n" not in str(raised.value).strip()
    assert not (tmp_path / "runs").exists(), "refused before any folder"

    run = latent_probe.probe(net, data, probes=[small("EmbeddingDumper", {"EmbeddingDumper": ["2"]})], out=out,
                             accelerator="cpu")
    folder = run / "probes" / "embedding_dumper" / "probe"
    assert (folder / ".complete").is_file()
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["layers"] == [{"layer": "2", "part": "", "shape": [8], "stored": "as is"}]
    assert not (folder / "metrics.json").exists(), "latent metrics need labels: none written"
    assert "metrics.json" not in manifest["files"]
    with np.load(folder / "embeddings.npz") as npz:
        assert sorted(npz.files) == ["2", "index"], "no label array"
        index, stored = npz["index"], npz["2"]
    with torch.no_grad():
        expected = net[:3](torch.stack([data[int(i)] for i in index])).numpy()
    np.testing.assert_allclose(stored, expected, rtol=1e-5, atol=1e-6)
    # TensorBoard's projector reads a lone metadata column without a header: one line per point, the dataset index.
    config, plugin = load_with_tensorboard(run)
    name = next(e.tensor_name for e in config.embeddings)
    served = Client(plugin.get_plugin_apps()["/metadata"]).get(f"/metadata?run=.&name={name}&num_rows={len(index)}")
    assert served.status_code == 200
    assert served.get_data(as_text=True).splitlines() == [str(i) for i in index], "one metadata line per point"


# ----- 4. the notebook docstring's example runs --------------------------------------------------------------------------
def test_notebook_docstring_example_runs(tmp_path, monkeypatch, capsys):
    doc = notebook.__doc__
    code = textwrap.dedent(doc.split("Example::", 1)[1])
    monkeypatch.chdir(tmp_path)
    exec(compile(code, "latent_probe.cli.notebook example", "exec"), {"__name__": "example"})
    printed = capsys.readouterr().out.strip().splitlines()[-1]
    report = Path(printed)
    assert report.is_absolute() and report.is_file() and report.name == "report.html", printed
    assert report.is_relative_to(tmp_path.resolve())
    assert complete(report.parent, "probe") == ["embedding_dumper", "linear_probe"]


# ----- 5. the probes never call validation_step --------------------------------------------------------------------------
def test_model_whose_validation_step_raises_is_probed(run_cli, tmp_path):
    cli = ["--model", "helpers.any_models.ValidationRaises", "--data", json.dumps(UNLABELLED)]
    layers = MODELS["autoencoder"]["layers"]
    probes = json.dumps([small(name, layers) for name in LABEL_FREE])
    # No validation in training (it would raise): the probes still fire at fit_end, on their own passes.
    fitted = run_cli("fit", *cli, "--probes", probes, "--trainer.limit_val_batches=0", "--experiment", "noval")
    assert fitted.code == 0 and "failed" not in fitted.err, fitted.err[-3000:]
    run = latest_run(tmp_path, "noval")
    assert complete(run, "fit_end") == folder_names(LABEL_FREE)
    checkpoint = run / "checkpoints" / "last.ckpt"
    posthoc = run_cli("probe", "--config", str(run / "config.yaml"), "--ckpt_path", str(checkpoint))
    assert posthoc.code == 0 and "validation_step must not run" not in posthoc.err, posthoc.err[-3000:]
    assert complete(run, "probe") == folder_names(LABEL_FREE)
    # The config's limit_val_batches: 0 does not skip the post-hoc pass either.
    assert re.search(r"limit_val_batches: 0\b", (run / "config.yaml").read_text())

    model = ValidationRaises()
    with pytest.raises(RuntimeError, match="must not run"):
        model.validation_step(torch.zeros(1, 1, 8, 8), 0)
    nb = latent_probe.probe(model, UnlabelledDigits(*VAL_ITEMS), weights=str(checkpoint), out=tmp_path / "runs" / "nb",
                            probes=[small(name, layers) for name in LABEL_FREE], accelerator="cpu")
    assert complete(nb, "probe") == folder_names(LABEL_FREE)


def test_a_mask_named_as_the_label_is_refused_at_setup(tmp_path):
    """``data_spec.label_key`` pointing at a per-pixel mask: a probe that needs class labels says so before any folder."""
    data = MaskedSquares(SAMPLES, as_dict=True)
    out = tmp_path / "runs" / "seg"
    with pytest.raises(ConfigError, match=r"needs one class label per sample, but data_spec.label_key 'mask' holds \[12, 12\]"):
        latent_probe.probe(TinySegNet(), data, probes=[small("LinearProbe", ["trunk.conv1"])], out=out, accelerator="cpu",
                           data_spec={"label_key": "mask"})
    assert not out.exists()
