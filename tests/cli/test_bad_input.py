"""Bad input of every kind ends with one line naming the value and what is valid, exit 2, no traceback,
and writes nothing; a property-based test feeds random config values and sees a clean error or success."""

import json

import numpy as np
import pytest
import torch
from bomb_files import npy_declaring, png_declaring
from helpers.mnist_files import fake_mnist_args
from helpers.paths import CONFIGS
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

QUICKSTART = str(CONFIGS / "quickstart.yaml")
MLP = str(CONFIGS / "mlp_influence.yaml")
SDA = str(CONFIGS / "sda.yaml")
MNIST_CONFIGS = (MLP, SDA)  # read fake MNIST files, never the download
DIGITS = ["--model", "helpers.probe_models.TinyDigitNet", "--data", "DigitsDataModule"]
LINEAR = {"class_path": "LinearProbe"}


def probes(*specs) -> list[str]:
    return ["--probes", json.dumps(list(specs))]


def with_probe(*options: str) -> list[str]:
    """The digits model with one EmbeddingDumper on its bottleneck, and ``options`` (e.g. ``--data_spec.std=0``)."""
    return ["fit", *DIGITS, *probes({"class_path": "EmbeddingDumper", "init_args": {"layers": ["bottleneck"]}}), *options]


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
    png_declaring(tmp_path / "bomb.png", 100_000, 100_000)  # 10 billion pixels in 69 bytes
    png_declaring(tmp_path / "wide.png", 5000, 5000)  # under Pillow's limit: refused for its size before decoding
    npy_declaring(tmp_path / "huge.npy", (100_000, 100_000))  # 37 GiB declared in 128 bytes
    npy_declaring(tmp_path / "wrong.npy", (28, 29))
    for name, probe, options in (("nan_reference", "InfluenceMapper", "layers: [act1], reference: .nan"),
                                 ("inf_threshold", "EmbeddingDumper", "layers: [bottleneck], active_threshold: .inf"),
                                 ("minus_inf_level", "LayerTransformRecorder", "boundary_level: -.inf")):
        (tmp_path / f"{name}.yaml").write_text(f"probes:\n  - class_path: {probe}\n    init_args: {{{options}}}\n")
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
    # Issue 23, "Trust": two probes of one name, moments that never come, non-finite numbers, options that ask for
    # more memory than a machine has, data_spec values that contradict the data, decompression bombs.
    "two probes named alike": (["fit", *DIGITS, *probes({**LINEAR, "init_args": {"name": "same"}},
                                                        {"class_path": "EmbeddingDumper", "init_args": {"name": "same"}})],
                               ["two probes are named 'same'", "LinearProbe and EmbeddingDumper", "HINT: set `name:`"]),
    "an explicit name equal to a default one": (
        ["fit", *DIGITS, *probes(LINEAR, {"class_path": "EmbeddingDumper", "init_args": {"name": "linear_probe", "layers": ["hidden"]}})],
        ["two probes are named 'linear_probe'"]),
    "a misspelt moment": (["fit", *DIGITS, *probes({**LINEAR, "init_args": {"moments": ["fit_ned"]}})],
                          ["probe 'linear_probe': unknown moment 'fit_ned'; valid choices: fit_end,"]),
    "a misspelt SdA phase": (["fit", "--config", SDA, "--probes.0.moments", "[pretrain_edn, fit_end]"],
                             ["probe 'filter_tiler': unknown moment 'pretrain_edn'; valid choices: pretrain_end,", "finetune_end"]),
    "a phase of a model without phases": (["fit", *DIGITS, *probes({**LINEAR, "init_args": {"moments": ["pretrain_end"]}})],
                                          ["unknown moment 'pretrain_end'", "TinyDigitNet declares no phases"]),
    "an epoch as a moment": (["fit", *DIGITS, *probes({**LINEAR, "init_args": {"moments": ["epoch=0004"]}})],
                             ["unknown moment 'epoch=0004'", "every_n_epochs"]),
    # Non-finite numbers from config files, spelt as YAML spells them (.nan, .inf); the config reader may refuse them
    # before the probe's own check does (tests/probes/test_option_limits.py checks those without the CLI).
    "a NaN pixel reference": (["fit", "--config", MLP, "--config", "{tmp}/nan_reference.yaml"],
                              ["reference", "must be a finite number, got nan"]),
    "an infinite threshold": (["fit", *DIGITS, "--config", "{tmp}/inf_threshold.yaml"],
                              ["active_threshold", "must be a finite number, got inf"]),
    "a boundary level of -inf": (["fit", "--config", QUICKSTART, "--config", "{tmp}/minus_inf_level.yaml"],
                                 ["boundary_level", "must be a finite number, got -inf"]),
    "an infinite learning rate": (["fit", "--config", QUICKSTART, "--model.lr=.inf"], ["lr", "must be a finite number, got inf"]),
    "a NaN mean": (with_probe("--data_spec.mean=.nan", "--data_spec.std=1"), ["mean", "must be a finite number, got nan"]),
    "a boundary grid of terabytes": (["fit", "--config", QUICKSTART, "--probes.0.boundary_resolution", "200000"],
                                     ["boundary_resolution 200000 would allocate 745 GiB", "the limit is 2 GiB"]),
    "a GIF of millions of frames": (["fit", "--config", QUICKSTART, "--probes.0.frames_per_step", "1000000"],
                                    ["frames_per_step 1000000 with hold 1", "for the GIF; the limit is 2 GiB"]),
    "a frame longer than a GIF holds": (["fit", "--config", QUICKSTART, "--probes.0.frame_ms", "1000000"],
                                        ["frame_ms must be >= 10 and <= 655350, got 1000000"]),
    "a filter zoom of terabytes": (["fit", *DIGITS, *probes({"class_path": "FilterTiler", "init_args": {"zoom": 100000}})],
                                   ["probe 'filter_tiler': zoom 100000", "would allocate", "the limit is 2 GiB"]),
    "a filter spacing of terabytes": (["fit", *DIGITS, *probes({"class_path": "FilterTiler", "init_args": {"spacing": 10000000}})],
                                      ["zoom 4 with spacing 10000000", "the limit is 2 GiB"]),
    "an influence chunk of terabytes": (["fit", "--config", MLP, "--probes.0.chunk_size", "1000000000"],
                                        ["probe 'influence_mapper': chunk_size 1000000000 would allocate", "the limit is 2 GiB"]),
    "an influence image of terabytes": (["fit", "--config", MLP, "--probes.0.image_shape", "[1, 100000, 100000]"],
                                        ["image_shape [1, 100000, 100000] would allocate 37 GiB", "the limit is 2 GiB"]),
    "a billion integrated-gradient steps": (["fit", "--config", MLP, "--probes.0.ig_steps", "1000000000"],
                                            ["ig_steps must be >= 1 and <= 10000"]),
    "an image_shape the inputs do not fill": (with_probe("--data_spec.image_shape", "[1, 8, 9]"),
                                              ["data_spec.image_shape [1, 8, 9] holds 72 values", "DigitsDataModule has 64"]),
    "a mean per channel of grey images": (with_probe("--data_spec.mean", "[0.5, 0.5, 0.5]", "--data_spec.std", "[0.2, 0.2, 0.2]"),
                                          ["data_spec.mean has 3 values", "have 1 channel(s)"]),
    "a std of zero": (with_probe("--data_spec.mean", "0.5", "--data_spec.std", "0"), ["data_spec.std must be > 0, got 0"]),
    "too many class names": (with_probe("--data_spec.class_names", json.dumps([str(n) for n in range(11)])),
                             ["data_spec.class_names has 11 names", "DigitsDataModule has 10 classes"]),
    "too few class names": (with_probe("--data_spec.class_names", "[zero, one, two]"),
                            ["data_spec.class_names has 3 names ['zero', 'one', 'two']", "has 10 classes"]),
    "a newline in a class name": (with_probe("--data_spec.class_names", json.dumps(["a\nb", *map(str, range(9))])),
                                  ["data_spec.class_names[0] must not contain control characters", "'a\\nb'"]),
    "a decompression bomb": (["fit", "--config", MLP, "--probes.0.files", "[{tmp}/bomb.png]"],
                             ["bomb.png' is refused before decoding", "10000000000 pixels", "exceeds limit"]),
    "an image too wide to decode": (["fit", "--config", MLP, "--probes.0.files", "[{tmp}/wide.png]"],
                                    ["wide.png' has shape [5000, 5000]; the model takes images of shape [1, 28, 28]"]),
    "an .npy header of 37 GiB": (["fit", "--config", MLP, "--probes.0.files", "[{tmp}/huge.npy]"],
                                 ["huge.npy' of shape [100000, 100000] would allocate 37 GiB", "the limit is 2 GiB"]),
    "an .npy of the wrong shape": (["fit", "--config", MLP, "--probes.0.files", "[{tmp}/wrong.npy]"],
                                   ["wrong.npy' has shape [28, 29]"]),
}


@pytest.mark.parametrize("case", list(CASES))
def test_bad_input(case, run_cli, files, fake_mnist):
    argv, expected = CASES[case]
    argv = [a.replace("{tmp}", str(files)) for a in argv]
    if "--config" in argv and argv[argv.index("--config") + 1] in MNIST_CONFIGS and "--data.root" not in argv:
        argv += fake_mnist_args(fake_mnist)
    assert_clean_error(run_cli(*argv, shrink=argv[0] not in ("report",)), *expected)
    written = [p for p in (files / "runs").rglob("*") if p.is_file()] if (files / "runs").exists() else []
    assert not written, f"a rejected command must write nothing: {written}"
    assert not (files / "runs").exists() or not list((files / "runs").rglob("version_*")), "a rejected command left a run folder"


def test_two_probes_of_one_class_and_default_name(run_cli, tmp_path):
    result = run_cli("fit", *DIGITS, *probes(LINEAR, LINEAR))
    assert_clean_error(result, "two probes are named 'linear_probe'", "HINT: set `name:` on one of them")
    assert not (tmp_path / "runs").exists()


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


# A trainer callback raising a user error once training starts: a problem found after the run folder was made.
FAIL_AT_TRAIN_START = ["--trainer.callbacks", json.dumps([{"class_path": "helpers.probe_models.FailAtTrainStart"}])]


def test_a_failure_after_the_run_folder_was_made_leaves_no_debris(run_cli, tmp_path):
    (tmp_path / "runs" / "quickstart" / "version_0").mkdir(parents=True)  # an earlier run of the experiment stays
    result = run_cli("fit", "--config", QUICKSTART, *FAIL_AT_TRAIN_START)
    assert_clean_error(result, "the data contradicts the config")
    assert sorted(p.name for p in (tmp_path / "runs" / "quickstart").iterdir()) == ["version_0"]


def test_a_failure_in_a_fresh_experiment_leaves_no_folder(run_cli, tmp_path):
    result = run_cli("fit", "--config", QUICKSTART, *FAIL_AT_TRAIN_START)
    assert_clean_error(result, "the data contradicts the config")
    assert not (tmp_path / "runs" / "quickstart").exists()
