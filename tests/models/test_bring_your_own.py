"""Outside models and data, as a new user brings them: torchvision, timm and Hugging Face backbones in Classifier,
any Dataset in DatasetDataModule (dict items too), and weights files in every format, through the real CLI."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
import torchvision
from helpers.mnist_files import fake_mnist_args
from helpers.paths import CONFIGS
from helpers.runs import latest_run
from safetensors.torch import save_file

BYO = sorted((CONFIGS / "byo").glob("*.yaml"))
SMALL = ["--trainer.limit_train_batches=2", "--trainer.limit_val_batches=1", "--probes.0.max_samples=64",
         "--probes.1.max_samples=64", "--probes.3.max_samples=64", "--probes.4.n_images=1"]


def complete_moments(run: Path) -> list[str]:
    return sorted(p.parent.parent.name for p in (run / "probes").glob("*/*/.complete"))


@pytest.mark.parametrize("config", BYO, ids=[p.stem for p in BYO])
def test_example_config_trains_and_every_probe_writes(config, run_cli, tmp_path, fake_mnist):
    result = run_cli("fit", "--config", str(config), *fake_mnist_args(fake_mnist), *SMALL)
    assert result.code == 0, result.err[-3000:]
    assert "skipped" not in result.err and "failed at" not in result.err, result.err[-3000:]
    run = latest_run(tmp_path, config.stem)
    assert complete_moments(run) == ["embedding_dumper", "filter_tiler", "influence_mapper", "layer_transform_recorder",
                                     "linear_probe"]


def test_classifier_on_a_dataset_of_dict_items(run_cli, tmp_path):
    dataset = {"class_path": "contract_models.DictDigits", "init_args": {"start": 0, "stop": 400}}
    backbone = {"class_path": "torchvision.models.resnet18", "init_args": {"num_classes": 10}}
    probes = [{"class_path": name, "init_args": {"layers": layers, "max_samples": 64, "strict": True}}
              for name, layers in (("EmbeddingDumper", ["backbone.avgpool"]), ("LinearProbe", ["backbone.layer1", "backbone.layer4"]))]
    result = run_cli("fit", "--model", "Classifier", "--model.backbone", json.dumps(backbone), "--model.in_channels", "1",
                     "--data", "DatasetDataModule", "--data.train", json.dumps(dataset), "--data.val_fraction", "0.25",
                     "--probes", json.dumps(probes), "--experiment", "dicts")
    assert result.code == 0, result.err[-3000:]
    run = latest_run(tmp_path, "dicts")
    assert complete_moments(run) == ["embedding_dumper", "linear_probe"]
    manifest = json.loads((run / "probes" / "linear_probe" / "fit_end" / "manifest.json").read_text())
    assert manifest["layers"][0]["shape"] == [64, 2, 2] and manifest["layers"][0]["stored"] == "flattened to 256", "8x8 digits"
    with open(run / "probes" / "embedding_dumper" / "fit_end" / "embeddings.npz", "rb") as handle:
        assert handle.read(2) == b"PK"


def resnet_files(folder: Path) -> dict[str, Path]:
    """One ResNet-18's weights as torchvision saves them (.pth), as .safetensors, and prefixed as in a Lightning checkpoint."""
    torch.manual_seed(1)
    state = torchvision.models.resnet18(num_classes=10).state_dict()
    files = {"pth": folder / "resnet18.pth", "safetensors": folder / "resnet18.safetensors", "prefixed": folder / "wrapped.pt"}
    torch.save(state, files["pth"])
    save_file(state, str(files["safetensors"]))
    torch.save({"state_dict": {f"model.backbone.{k}": v for k, v in state.items()}}, files["prefixed"])
    return files


RESNET = ["--model", "Classifier", "--model.backbone.class_path", "torchvision.models.resnet18",
          "--model.backbone.init_args.num_classes", "10", "--model.in_channels", "1", "--data", "MNISTDataModule"]
EMBED = ["--probes", json.dumps([{"class_path": "EmbeddingDumper", "init_args": {"layers": ["backbone.fc"], "max_samples": 32}}])]


@pytest.mark.parametrize("kind", ["pth", "safetensors", "prefixed"])
def test_probe_with_weights_of_any_format(kind, run_cli, tmp_path, fake_mnist):
    files = resnet_files(tmp_path)
    result = run_cli("probe", *RESNET, *fake_mnist_args(fake_mnist), *EMBED, "--weights", str(files[kind]), "--experiment", "w")
    assert result.code == 0, result.err[-3000:]
    import numpy as np

    with np.load(latest_run(tmp_path, "w") / "probes" / "embedding_dumper" / "probe" / "embeddings.npz") as npz:
        logits = npz["backbone.fc"]
    torch.manual_seed(1)
    reference = torchvision.models.resnet18(num_classes=10)
    assert logits.shape == (32, 10)
    assert np.abs(logits).max() > 0 and torch.equal(reference.fc.bias, torch.load(files["pth"], weights_only=True)["fc.bias"])


def test_weights_that_do_not_fit_are_one_line(run_cli, tmp_path, fake_mnist):
    small = tmp_path / "resnet5.pth"
    torch.save(torchvision.models.resnet18(num_classes=5).state_dict(), small)
    result = run_cli("probe", *RESNET, *fake_mnist_args(fake_mnist), *EMBED, "--weights", str(small), "--experiment", "w")
    lines = [line for line in result.err.splitlines() if line.startswith("latent-probe: error:")]
    assert result.code == 2 and len(lines) == 1 and "Traceback" not in result.err
    assert "does not fit Classifier" in lines[0] and "backbone.fc.weight (5, 512) vs (10, 512)" in lines[0]
    assert not (tmp_path / "runs").exists()
    with pytest.warns(UserWarning, match="left out .*shape_mismatch"):
        loose = run_cli("probe", *RESNET, *fake_mnist_args(fake_mnist), *EMBED, "--weights", str(small), "--weights_strict", "false",
                        "--experiment", "w")
    assert loose.code == 0


def test_notebook_api_runs_probes_on_a_plain_module(tmp_path):
    from torchvision.datasets import FakeData
    from torchvision.transforms import ToTensor

    import latent_probe

    data = FakeData(48, (1, 16, 16), 10, transform=ToTensor())
    net = torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3), torch.nn.ReLU(), torch.nn.Flatten(), torch.nn.Linear(4 * 14 * 14, 10))
    run = latent_probe.probe(net, data, probes=[{"class_path": "EmbeddingDumper", "init_args": {"layers": ["1"]}}],
                             out=tmp_path / "runs" / "nb", accelerator="cpu")
    assert run.is_absolute() and run == (tmp_path / "runs" / "nb" / "version_0").resolve() and (run / "report.html").is_file()
    manifest = json.loads((run / "probes" / "embedding_dumper" / "probe" / "manifest.json").read_text())
    assert manifest["layers"][0] == {"layer": "1", "part": "", "shape": [4, 14, 14], "stored": "flattened to 784"}
    with np.load(run / "probes" / "embedding_dumper" / "probe" / "embeddings.npz") as npz:  # the module's own output
        images = torch.stack([data[i][0] for i in npz["index"]])
        with torch.no_grad():
            expected = torch.relu(net[0](images)).flatten(1).numpy()
        np.testing.assert_allclose(npz["1"], expected, rtol=1e-5, atol=1e-6)


def test_posthoc_probe_runs_land_in_the_training_run(run_cli, tmp_path):
    assert run_cli("fit", "--config", str(CONFIGS / "quickstart.yaml"), "--trainer.max_epochs=1").code == 0
    run = latest_run(tmp_path, "quickstart")
    config, checkpoint = run / "config.yaml", run / "checkpoints" / "last.ckpt"
    trained_config = config.read_text()
    for _ in range(2):
        done = run_cli("probe", "--config", str(config), "--ckpt_path", str(checkpoint), "--probes.0.max_samples", "50")
        assert done.code == 0, done.err[-3000:]
    assert sorted(p.name for p in (run.parent).iterdir()) == ["version_0"], "no new run folder"
    assert sorted(p.name for p in (run / "probes" / "layer_transform_recorder").iterdir()) == ["fit_end", "probe", "probe-2"]
    assert config.read_text() == trained_config and (run / "probe_config.yaml").is_file()
    assert "probe-2" in (run / "report.html").read_text()
    with open(run / "probes" / "layer_transform_recorder" / "probe-2" / "manifest.json") as handle:
        assert json.load(handle)["moment"] == "probe-2"


def test_changing_one_probe_option_and_a_wrong_index(run_cli, tmp_path):
    quickstart = ["--config", str(CONFIGS / "quickstart.yaml")]
    shown = run_cli("fit", *quickstart, "--probes.0.frames_per_step", "2", "--print_config", shrink=False)
    assert shown.code == 0 and "frames_per_step: 2" in shown.out
    wrong = run_cli("fit", *quickstart, "--probes.4.max_samples", "5")
    assert wrong.code == 2 and "--probes.4.max_samples: the config has 2 probes" in wrong.err


def test_gradient_probe_under_latent_probe_probe(run_cli, tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(CONFIGS.parent / "examples" / "latent-probe-example-plugin" / "src"))
    import lp_example_plugin  # noqa: F401  registers InputSaliency

    assert run_cli("fit", "--config", str(CONFIGS / "quickstart.yaml"), "--trainer.max_epochs=1", "--probes", "[]").code == 0
    run = latest_run(tmp_path, "quickstart")
    saliency = json.dumps([{"class_path": "InputSaliency", "init_args": {"layers": ["net.output_layer"], "max_samples": 64}}])
    result = run_cli("probe", "--config", str(run / "config.yaml"), "--ckpt_path", str(run / "checkpoints" / "last.ckpt"),
                     "--probes", saliency)
    assert result.code == 0 and "failed" not in result.err, result.err[-3000:]
    import numpy as np

    with np.load(run / "probes" / "input_saliency" / "probe" / "saliency.npz") as npz:
        assert npz["net.output_layer"].shape == (2,) and (npz["net.output_layer"] > 0).all()
