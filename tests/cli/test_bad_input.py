"""Bad input of every kind ends with one line naming the value and what is valid, exit 2, no traceback,
and writes nothing; a property-based test feeds random config values and sees a clean error or success."""

import json

import numpy as np
import pytest
import torch
from helpers.mnist_files import fake_mnist_args
from helpers.paths import CONFIGS
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

QUICKSTART = str(CONFIGS / "quickstart.yaml")
MLP = str(CONFIGS / "mlp_influence.yaml")
DIGITS = ["--model", "helpers.probe_models.TinyDigitNet", "--data", "DigitsDataModule"]


def probes(*specs) -> list[str]:
    return ["--probes", json.dumps(list(specs))]


def assert_clean_error(result, *expected: str) -> str:
    """Exit 2, exactly one error line containing every expected part, no traceback."""
    assert result.code == 2, f"exit {result.code}: {result.err[-2000:]}"
    lines = [line for line in result.err.splitlines() if line.startswith("latent-probe: error:")]
    assert len(lines) == 1, result.err[-2000:]
    assert "Traceback" not in result.err
    for part in expected:
        assert part in lines[0], lines[0]
    return lines[0]


@pytest.fixture
def files(tmp_path, fake_mnist):
    """Weights files and checkpoints the cases point at."""
    torch.manual_seed(0)
    good = {"W1": np.zeros((784, 50), np.float32), "b1": np.zeros(50, np.float32), "W2": np.zeros((50, 100), np.float32),
            "b2": np.zeros(100, np.float32), "W3": np.zeros((100, 10), np.float32), "b3": np.zeros(10, np.float32)}
    np.savez(tmp_path / "missing_key.npz", **{k: v for k, v in good.items() if k != "b2"})
    np.savez(tmp_path / "wrong_shape.npz", **{**good, "W2": np.zeros((49, 100), np.float32)})
    (tmp_path / "weights.pkl").write_bytes(b"not allowed")
    torch.save({"state_dict": {"net.input_layer.weight": torch.zeros(3, 2)}}, tmp_path / "other_model.ckpt")
    (tmp_path / "broken.yaml").write_text("model:\n  class_path: DeepMLP\n   init_args: [\n")
    return tmp_path


CASES = {
    "unknown model": (["fit", "--config", QUICKSTART, "--model", "DeepMPL"], ["unknown model 'DeepMPL'", "DeepMLP"]),
    "unknown datamodule": (["fit", "--config", QUICKSTART, "--data", "Toy2d"], ["unknown datamodule 'Toy2d'", "Toy2DDataModule"]),
    "unknown probe": (["fit", "--config", QUICKSTART, *probes({"class_path": "EmbedingDumper"})],
                      ["unknown probe 'EmbedingDumper'", "EmbeddingDumper"]),
    "unknown layer": (["fit", *DIGITS, *probes({"class_path": "EmbeddingDumper", "init_args": {"layers": ["bottlenck"]}})],
                      ["layer 'bottlenck' not found", "bottleneck"]),
    "unknown activation": (["fit", "--config", MLP, "--model.activation", "relu6"], ["relu6", "sigmoid"]),
    "unknown dataset": (["fit", "--config", MLP, "--data.dataset", "CIFAR10"], ["CIFAR10", "MNIST"]),
    "unknown subcommand": (["train", "--config", QUICKSTART], ["invalid choice: 'train'", "fit"]),
    "unknown config key": (["fit", "--config", QUICKSTART, "--trainer.max_epoch", "3"], ["max_epoch"]),
    "unknown model argument": (["fit", "--config", QUICKSTART, "--model.widht", "3"], ["widht"]),
    "negative epochs": (["fit", "--config", QUICKSTART, "--trainer.max_epochs", "-5"], ["max_epochs", "-5"]),
    "wrong type": (["fit", "--config", QUICKSTART, "--model.depth", "ten"], ["ten"]),
    "width 0": (["fit", "--config", QUICKSTART, "--model.width", "0"], ["width must be >= 1 and <= 1000000, got 0"]),
    "corruption above 1": (["fit", "--config", str(CONFIGS / "dae.yaml"), "--model.corruption", "1.5"], ["corruption", "1.5"]),
    "empty hidden_sizes": (["fit", "--config", str(CONFIGS / "sda.yaml"), "--model.hidden_sizes", "[]"], ["hidden_sizes"]),
    "batch size 0": (["fit", "--config", QUICKSTART, "--data.batch_size", "0"], ["batch_size must be >= 1, got 0"]),
    "probe max_samples 0": (["fit", *DIGITS, *probes({"class_path": "LinearProbe", "init_args": {"max_samples": 0}})],
                            ["max_samples must be >= 1, got 0"]),
    "malformed YAML": (["fit", "--config", "{tmp}/broken.yaml"], ["is not valid YAML at line"]),
    "missing config": (["fit", "--config", "{tmp}/nowhere.yaml"], ["config file not found"]),
    "missing checkpoint": (["fit", "--config", QUICKSTART, "--ckpt_path", "{tmp}/gone.ckpt"], ["checkpoint file not found"]),
    "missing weights": (["probe", "--config", MLP, "--model.weights", "{tmp}/none.npz"], ["weights file not found"]),
    "weights missing a key": (["probe", "--config", MLP, "--model.weights", "{tmp}/missing_key.npz"], ["missing key 'b2'"]),
    "weights of a wrong shape": (["probe", "--config", MLP, "--model.weights", "{tmp}/wrong_shape.npz"], ["W2"]),
    "pickled weights": (["probe", "--config", MLP, "--model.weights", "{tmp}/weights.pkl"], [".pkl", ".npz", ".safetensors"]),
    "checkpoint of another model": (["test", *DIGITS, "--ckpt_path", "{tmp}/other_model.ckpt"], ["other_model.ckpt"]),
    "missing data root": (["fit", "--config", MLP, "--data.root", "{tmp}/no_data", "--data.download", "false"], ["no_data"]),
    "filter tiler on a non-image layer": (
        ["fit", "--config", QUICKSTART, *probes({"class_path": "FilterTiler", "init_args": {"layers": ["net.hidden_layer1"]}})],
        ["probe 'filter_tiler'", "image shape", "data_spec.image_shape"]),
    "report of a missing run": (["report", "{tmp}/runs/none"], ["run folder not found"]),
}


@pytest.mark.parametrize("case", list(CASES))
def test_bad_input(case, run_cli, files):
    argv, expected = CASES[case]
    argv = [a.replace("{tmp}", str(files)) for a in argv]
    if "--config" in argv and argv[argv.index("--config") + 1] == MLP and "--data.root" not in argv:
        argv += fake_mnist_args(files)
    assert_clean_error(run_cli(*argv, shrink=argv[0] not in ("report",)), *expected)
    written = [p for p in (files / "runs").rglob("*") if p.is_file()] if (files / "runs").exists() else []
    assert not written, f"a rejected command must write nothing: {written}"
    assert not (files / "runs").exists() or not list((files / "runs").rglob("version_*")), "a rejected command left a run folder"


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    width=st.one_of(st.integers(-3, 4), st.sampled_from(["x", "1.5", "[]", "null"])),
    depth=st.one_of(st.integers(-2, 3), st.sampled_from(["deep", "{}", "2e0"])),
    lr=st.one_of(st.floats(-1, 1), st.sampled_from(["fast", "0", "nan", "inf"])),
    kind=st.sampled_from(["moons", "circles", "ring", "", "MOONS"]),
    batch=st.one_of(st.integers(-1, 64), st.sampled_from(["many"])),
)
def test_random_config_values_end_in_success_or_a_clean_error(run_cli, width, depth, lr, kind, batch):
    result = run_cli("fit", "--config", QUICKSTART, f"--model.width={width}", f"--model.depth={depth}", f"--model.lr={lr}",
                     f"--data.kind={kind}", f"--data.batch_size={batch}", "--trainer.max_epochs=1", "--trainer.limit_train_batches=1",
                     "--trainer.limit_val_batches=1", "--trainer.enable_checkpointing=false", "--trainer.logger=false")
    assert "Traceback" not in result.err
    assert result.code in (0, 2), result.err[-2000:]
    if result.code == 2:
        assert sum(line.startswith("latent-probe: error:") for line in result.err.splitlines()) == 1, result.err[-2000:]
