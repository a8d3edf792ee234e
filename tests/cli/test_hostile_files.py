"""Hostile and broken files and values a user can point the CLI at: checkpoints carrying pickled code, truncated or empty
files, YAML bombs, non-UTF-8 or empty configs, nesting deeper than a parser recurses, numbers beyond int64 or not finite,
relative module names, malformed ``--probes.N.key``, folders and FIFOs for files, checkpoints of the wrong shapes or of
NaN, decompression bombs. Each ends in one line, exit 2, no traceback, nothing written, and no payload runs."""

from __future__ import annotations

import json
import os
import pickle
import resource

import numpy as np
import pytest
import torch
from helpers.bombs import npz_bomb, npz_header_lie, safetensors_file, torch_zip_bomb
from helpers.mnist_files import fake_mnist_args
from helpers.paths import CONFIGS

from latent_probe.models import DeepMLP

QUICKSTART = str(CONFIGS / "quickstart.yaml")


class Payload:
    """Unpickling this creates a file: the proof that a checkpoint's code ran."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


@pytest.fixture
def hostile(tmp_path):
    """The files, written once per test in tmp_path (the CLI's working folder)."""
    marker = str(tmp_path / "PAYLOAD_RAN")
    with open(tmp_path / "evil.ckpt", "wb") as handle:
        pickle.dump({"state_dict": Payload(marker), "epoch": 0, "global_step": 0, "loops": {}}, handle)
    torch.save({"net.input_layer.weight": torch.zeros(3, 2)}, tmp_path / "plain_state_dict.ckpt")
    torch.save([torch.zeros(2)], tmp_path / "a_list.ckpt")
    (tmp_path / "truncated.ckpt").write_bytes((tmp_path / "plain_state_dict.ckpt").read_bytes()[:40])
    (tmp_path / "empty.ckpt").write_bytes(b"")
    (tmp_path / "random.ckpt").write_bytes(os.urandom(512))
    lines = ["a: &a [x, x, x, x, x, x, x, x, x]"] + [f"{n}: &{n} [{', '.join([f'*{p}'] * 9)}]" for p, n in zip("abcdef", "bcdefg")]
    (tmp_path / "bomb.yaml").write_text("\n".join(lines) + "\n")
    (tmp_path / "latin1.yaml").write_bytes("model: Modèle\n".encode("latin-1"))
    (tmp_path / "empty.yaml").write_text("")
    (tmp_path / "a_list.yaml").write_text("- model\n- data\n")
    (tmp_path / "deep.yaml").write_text("a: " + "[" * 60 + "]" * 60 + "\n")
    (tmp_path / "huge.yaml").write_text("# padding\n" * 120_000)
    np.save(tmp_path / "objects.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    np.save(tmp_path / "strings.npy", np.array(["a", "b"]))
    np.savez(tmp_path / "archive.npz", a=np.zeros(3))
    (tmp_path / "archive.npy").write_bytes((tmp_path / "archive.npz").read_bytes())
    (tmp_path / "not_an_image.png").write_bytes(b"not a png at all")
    write_deep_and_numeric_configs(tmp_path)
    write_special_files(tmp_path)
    write_unfit_weights(tmp_path)
    return tmp_path


DEEP = 100_000  # far past Python's recursion limit: PyYAML's composer and json recurse once per level


def write_deep_and_numeric_configs(folder) -> None:
    """Configs nesting past any recursion limit, referring to themselves, or holding numbers out of range."""
    (folder / "deep_flow.yaml").write_text("a: " + "[" * DEEP + "]" * DEEP + "\n")
    (folder / "deep_block.yaml").write_text("a:\n  " + "- " * DEEP + "x\n")
    (folder / "deep_json.yaml").write_text('{"model": ' + '{"a": ' * DEEP + "1" + "}" * DEEP + "}\n")
    (folder / "self_alias.yaml").write_text("model: DeepMLP\nx: &a [1, *a]\n")
    (folder / "big_int.yaml").write_text("trainer:\n  max_epochs: 99999999999999999999\n")
    (folder / "long_int.yaml").write_text("seed_everything: 1" + "0" * 5000 + "\n")
    (folder / "nan_lr.yaml").write_text("model:\n  init_args:\n    lr: .nan\n")
    (folder / "inf_clip.yaml").write_text("trainer:\n  gradient_clip_val: -.inf\n")
    (folder / "plain_1e400.yaml").write_text("model:\n  init_args:\n    lr: 1e400\n")
    (folder / "dot_model.yaml").write_text("model:\n  class_path: ..x\n")
    (folder / "dot_callback.yaml").write_text("trainer:\n  callbacks:\n    - class_path: .x\n")
    (folder / "dot_class.yaml").write_text("class_path: ..x\n")


def write_special_files(folder) -> None:
    """Folders and FIFOs named like the files the CLI reads."""
    for name in ("folder.yaml", "folder.ckpt", "folder.npz"):
        (folder / name).mkdir()
    for name in ("fifo.yaml", "fifo.ckpt", "fifo.npz"):
        os.mkfifo(folder / name)


def write_unfit_weights(folder) -> None:
    """Checkpoints and weights of the quickstart model (DeepMLP width 3, depth 10): wrong shapes, NaN, a string."""
    state = DeepMLP(width=3, depth=10).state_dict()
    first = next(iter(state))
    checkpoint = {"epoch": 0, "global_step": 0, "loops": {}}
    torch.save({**checkpoint, "state_dict": {**state, first: torch.zeros(4, 2)}}, folder / "shapes.ckpt")
    torch.save({**checkpoint, "state_dict": {**state, first: torch.full((3, 2), float("nan"))}}, folder / "nan.ckpt")
    torch.save({**checkpoint, "state_dict": {**state, first: "not a tensor"}}, folder / "string.ckpt")
    torch.save({**state, first: torch.full((3, 2), float("inf"))}, folder / "inf_weights.pt")
    np.savez(folder / "nan_weights.npz", **{key: np.full(value.shape, np.nan, np.float32) for key, value in state.items()})
    npz_header_lie(folder / "header_lie.npz")
    header = json.dumps({"w": {"dtype": "F32", "shape": [2**28], "data_offsets": [0, 2**30]}}).encode()
    safetensors_file(folder / "offsets.safetensors", header, bytes(8))
    safetensors_file(folder / "header_length.safetensors", b"{}", declared=2**40)


@pytest.fixture(scope="module")
def bombs(tmp_path_factory):
    """Real decompression bombs of 3 GiB, about 3 MB each on disk (written once for the module, in a second or two)."""
    folder = tmp_path_factory.mktemp("bombs")
    npz_bomb(folder / "bomb.npz")
    torch_zip_bomb(folder / "bomb.ckpt")
    (folder / "bomb.pt").write_bytes((folder / "bomb.ckpt").read_bytes())
    return folder


CASES = {
    "pickle payload checkpoint": (["fit", "--config", QUICKSTART, "--ckpt_path", "evil.ckpt"], ["evil.ckpt", "never unpickles"]),
    "pickle payload for test": (["test", "--config", QUICKSTART, "--ckpt_path", "evil.ckpt"], ["evil.ckpt", "never unpickles"]),
    "pickle payload for probe": (["probe", "--config", QUICKSTART, "--ckpt_path", "evil.ckpt"], ["evil.ckpt", "never unpickles"]),
    "a plain state_dict to resume from": (["fit", "--config", QUICKSTART, "--ckpt_path", "plain_state_dict.ckpt"],
                                          ["not a Lightning checkpoint to resume from", "--weights"]),
    "a list, not a checkpoint": (["test", "--config", QUICKSTART, "--ckpt_path", "a_list.ckpt"], ["holds a list"]),
    "truncated checkpoint": (["test", "--config", QUICKSTART, "--ckpt_path", "truncated.ckpt"], ["truncated.ckpt", "truncated"]),
    "empty checkpoint": (["validate", "--config", QUICKSTART, "--ckpt_path", "empty.ckpt"], ["empty.ckpt"]),
    "random bytes checkpoint": (["test", "--config", QUICKSTART, "--ckpt_path", "random.ckpt"], ["random.ckpt"]),
    "last with no run, for test": (["test", "--config", QUICKSTART, "--ckpt_path", "last"], ["no checkpoints/last.ckpt", "train first"]),
    "last with no run, for fit": (["fit", "--config", QUICKSTART, "--ckpt_path", "last"], ["no run under", "train first"]),
    "best": (["test", "--config", QUICKSTART, "--ckpt_path", "best"], ["--ckpt_path best is not supported"]),
    "hpc": (["fit", "--config", QUICKSTART, "--ckpt_path", "hpc"], ["--ckpt_path hpc is not supported"]),
    "registry": (["test", "--config", QUICKSTART, "--ckpt_path", "registry"], ["--ckpt_path registry is not supported"]),
    "pickle weights file": (["probe", "--config", QUICKSTART, "--weights", "evil.ckpt"], ["evil.ckpt", "never unpickles"]),
    "YAML alias bomb": (["fit", "--config", "bomb.yaml"], ["bomb.yaml", "expands to more than"]),
    "YAML alias bomb in an option": (["fit", "--config", QUICKSTART, "--probes", "{bomb}"], ["expands to more than"]),
    "non-UTF-8 config": (["fit", "--config", "latin1.yaml"], ["latin1.yaml", "not UTF-8"]),
    "empty config": (["fit", "--config", "empty.yaml"], ["empty.yaml", "is empty"]),
    "a list as config": (["fit", "--config", "a_list.yaml"], ["a_list.yaml", "holds a list"]),
    "deeply nested config": (["fit", "--config", "deep.yaml"], ["deep.yaml", "nests deeper than 50"]),
    "huge config": (["fit", "--config", "huge.yaml"], ["huge.yaml", "must be under 1,000,000"]),
    "a width that cannot be allocated": (["fit", "--config", QUICKSTART, "--model.width", "10000000"], ["width must be", "<= 1000000"]),
    "a model of terabytes": (["fit", "--config", QUICKSTART, "--model.width", "60000"], ["DeepMLP", "would hold", "GiB"]),
    "a depth of millions": (["fit", "--config", QUICKSTART, "--model.depth", "100000000"], ["depth must be", "<= 10000"]),
    "hidden sizes of terabytes": (["fit", "--config", str(CONFIGS / "vae.yaml"), "--model.hidden_sizes", "[900000, 900000]"],
                                  ["VAE", "would hold"]),
    "ten billion points": (["fit", "--config", QUICKSTART, "--data.n_samples", "10000000000"], ["n_samples must be", "<= 10000000"]),
    "a seed numpy cannot take": (["fit", "--config", QUICKSTART, "--seed_everything", "4294967296"],
                                 ["seed_everything must be in [0, 4294967295]"]),
    "experiment name escaping runs/": (["fit", "--config", QUICKSTART, "--experiment", "../../outside"],
                                        ["experiment '../../outside' must be one folder name"]),
    "probe name escaping its folder": (["fit", "--config", QUICKSTART, "--probes",
                                        '[{"class_path": "LayerTransformRecorder", "init_args": {"name": "../../x"}}]'],
                                       ["probe name '../../x' must be a plain folder name"]),
    # Module names importlib cannot answer for (relative, empty parts): one line naming the value.
    "a relative model name": (["fit", "--config", QUICKSTART, "--model", "..x"], ["unknown model '..x'"]),
    "a dot as model": (["fit", "--config", QUICKSTART, "--model", "."], ["unknown model '.'"]),
    "a relative datamodule": (["fit", "--config", QUICKSTART, "--data", ".x"], ["unknown datamodule '.x'"]),
    "a relative probe": (["fit", "--config", QUICKSTART, "--probes", '[".x"]'], ["unknown probe '.x'"]),
    "a relative class_path inline": (["fit", "--config", QUICKSTART, "--model", '{"class_path": "..x"}'],
                                     ["--model: class_path '..x' is not a class name"]),
    "a relative class_path in a config": (["fit", "--config", QUICKSTART, "--config", "dot_model.yaml"],
                                          ["dot_model.yaml", "model.class_path '..x' is not a class name"]),
    "a relative callback in a config": (["fit", "--config", QUICKSTART, "--config", "dot_callback.yaml"],
                                        ["trainer.callbacks.0.class_path '.x' is not a class name"]),
    "a relative class_path in a model file": (["fit", "--config", QUICKSTART, "--model", "dot_class.yaml"],
                                              ["dot_class.yaml", "class_path '..x' is not a class name"]),
    # Malformed --probes.N.key: the option and the valid form.
    "a probe index that is a name": (["fit", "--config", QUICKSTART, "--probes.x.layers", "[a]"],
                                     ["--probes.x.layers: not a probe option", "--probes.N.key"]),
    "a negative probe index": (["fit", "--config", QUICKSTART, "--probes.-1.layers", "[a]"], ["--probes.-1.layers: not a probe"]),
    "a probe option without a key": (["fit", "--config", QUICKSTART, "--probes.0.", "3"], ["--probes.0.: not a probe option"]),
    "a probe key with an empty part": (["fit", "--config", QUICKSTART, "--probes.0..a", "3"], ["--probes.0..a: not a probe"]),
    "a probe index of 5000 digits": (["fit", "--config", QUICKSTART, "--probes." + "9" * 5000 + ".hold", "1"],
                                     ["the config has 2 probes (indices 0..1)"]),
    "init_args alone": (["fit", "--config", QUICKSTART, "--probes.0.init_args", "3"], ["name one option under init_args"]),
    "a key through a number": (["fit", "--config", QUICKSTART, "--probes.0.frames_per_step.x", "3"],
                               ["option frames_per_step holds a value of type int, not a mapping"]),
    "a key under class_path": (["fit", "--config", QUICKSTART, "--probes.0.class_path.x", "3"], ["class_path is a name"]),
    # Numbers beyond int64 or not finite, on the command line and in configs: the key and the value.
    "an int beyond int64": (["fit", "--config", QUICKSTART, "--data.batch_size", "18446744073709551617"],
                            ["--data.batch_size must be within the 64-bit integer range", "got 18446744073709551617"]),
    "an int beyond int64 for Lightning": (["fit", "--config", QUICKSTART, "--trainer.log_every_n_steps=99999999999999999999"],
                                          ["--trainer.log_every_n_steps", "64-bit"]),
    "a float overflowing to inf": (["fit", "--config", QUICKSTART, "--model.width", "1e400"],
                                   ["--model.width must be a finite number, got inf (written 1e400)"]),
    "inf for a Lightning float": (["fit", "--config", QUICKSTART, "--trainer.gradient_clip_val", ".inf"],
                                  ["--trainer.gradient_clip_val must be a finite number, got inf"]),
    "minus inf": (["fit", "--config", QUICKSTART, "--model.lr=-.inf"], ["--model.lr must be a finite number, got -inf (written -.inf)"]),
    "inf in a probe option": (["fit", "--config", QUICKSTART, "--probes.0.hold", "1e400"], ["--probes.0.hold must be a finite number"]),
    "inf inside inline JSON": (["fit", "--config", QUICKSTART, "--model", '{"class_path": "DeepMLP", "init_args": {"lr": 1e400}}'],
                               ["--model: init_args.lr must be a finite number, got inf (written 1e400)"]),
    "an int beyond int64 in a config": (["fit", "--config", QUICKSTART, "--config", "big_int.yaml"],
                                        ["big_int.yaml", "trainer.max_epochs must be within the 64-bit",
                                         "got 99999999999999999999"]),
    "an int of 5000 digits in a config": (["fit", "--config", QUICKSTART, "--config", "long_int.yaml"],
                                          ["long_int.yaml", "seed_everything", "5,001 characters"]),
    "NaN in a config": (["fit", "--config", QUICKSTART, "--config", "nan_lr.yaml"],
                        ["model.init_args.lr must be a finite number, got nan (written .nan)"]),
    "-inf in a config": (["fit", "--config", QUICKSTART, "--config", "inf_clip.yaml"],
                         ["trainer.gradient_clip_val must be a finite number, got -inf"]),
    "1e400 in a config": (["fit", "--config", QUICKSTART, "--config", "plain_1e400.yaml"],
                          ["model.init_args.lr must be a finite number, got inf (written 1e400)"]),
    # Nesting deeper than a recursive parser can go: refused before YAML composes or json parses.
    "a config 100,000 brackets deep": (["fit", "--config", "deep_flow.yaml"], ["deep_flow.yaml", "nests deeper than 50"]),
    "a config 100,000 dashes deep": (["fit", "--config", "deep_block.yaml"], ["deep_block.yaml", "nests deeper than 50"]),
    "a JSON config 100,000 mappings deep": (["fit", "--config", "deep_json.yaml"], ["deep_json.yaml", "nests deeper than 50"]),
    "a config that contains itself": (["fit", "--config", "self_alias.yaml"], ["self_alias.yaml", "x.1: alias *a refers to"]),
    "probes 100,000 lists deep": (["fit", "--config", QUICKSTART, "--probes", "[" * DEEP + "]" * DEEP],
                                  ["--probes nests deeper than 50"]),
    "a data_spec 100,000 mappings deep": (["fit", "--config", QUICKSTART, "--data_spec", '{"a": ' * DEEP + "1" + "}" * DEEP],
                                          ["--data_spec nests deeper than 50"]),
    # "Not found" only when nothing is there; a folder or a FIFO is said to be one, and nothing waits on a FIFO.
    "a folder as config": (["fit", "--config", "folder.yaml"], ["config file 'folder.yaml' is a directory"]),
    "a FIFO as config": (["fit", "--config", "fifo.yaml"], ["config file 'fifo.yaml' is not a regular file (a FIFO)"]),
    "a FIFO as model file": (["fit", "--config", QUICKSTART, "--model", "fifo.yaml"], ["'fifo.yaml' is not a regular file"]),
    "a FIFO as the trainer's config": (["fit", "--config", QUICKSTART, "--trainer", "fifo.yaml"],
                                       ["--trainer 'fifo.yaml' is not a regular file (a FIFO)"]),
    "a FIFO as a logger's config": (["fit", "--config", QUICKSTART, "--trainer.logger", "fifo.yaml"], ["is not a regular file"]),
    "a folder as checkpoint": (["test", "--config", QUICKSTART, "--ckpt_path", "folder.ckpt"], ["'folder.ckpt' is a directory"]),
    "a FIFO as checkpoint": (["fit", "--config", QUICKSTART, "--ckpt_path", "fifo.ckpt"], ["'fifo.ckpt' is not a regular file"]),
    "a device as checkpoint": (["test", "--config", QUICKSTART, "--ckpt_path", "/dev/null"],
                               ["'/dev/null' is not a regular file (a character device)"]),
    "a folder as weights": (["probe", "--config", QUICKSTART, "--weights", "folder.npz"], ["'folder.npz' is a directory"]),
    "a FIFO as weights": (["probe", "--config", QUICKSTART, "--weights", "fifo.npz"], ["'fifo.npz' is not a regular file"]),
    # Checkpoints and weights whose keys match but whose values do not: shapes, NaN, a string.
    "a checkpoint of other shapes": (["test", "--config", QUICKSTART, "--ckpt_path", "shapes.ckpt"],
                                     ["shapes differ", "net.input_layer.weight (4, 2) vs (3, 2)"]),
    "a checkpoint of NaN": (["test", "--config", QUICKSTART, "--ckpt_path", "nan.ckpt"],
                            ["nan.ckpt", "NaN or infinite values in ['net.input_layer.weight'] (1 of"]),
    "a checkpoint holding a string": (["validate", "--config", QUICKSTART, "--ckpt_path", "string.ckpt"],
                                      ["'net.input_layer.weight' (str)", "not named tensors"]),
    "weights of inf": (["probe", "--config", QUICKSTART, "--weights", "inf_weights.pt"], ["inf_weights.pt", "NaN or infinite"]),
    "weights of NaN, loading what fits": (["probe", "--config", QUICKSTART, "--weights", "nan_weights.npz", "--weights_strict", "false"],
                                          ["nan_weights.npz", "NaN or infinite"]),
    # Archives checked for what they declare before anything is decompressed or allocated.
    "an .npy header declaring 3 GiB": (["probe", "--config", QUICKSTART, "--weights", "header_lie.npz"],
                                       ["member 'W1.npy' declares shape (805306368,)", "3 GiB", "holds 16 bytes"]),
    "safetensors offsets past the file": (["probe", "--config", QUICKSTART, "--weights", "offsets.safetensors"],
                                          ["tensor 'w' has data_offsets [0, 1073741824] outside the file's 8 data bytes"]),
    "a safetensors header longer than the file": (["probe", "--config", QUICKSTART, "--weights", "header_length.safetensors"],
                                                  ["header declares 1,099,511,627,776 bytes"]),
    "an .npz bomb of 3 GiB": (["probe", "--config", QUICKSTART, "--weights", "{bombs}/bomb.npz"],
                              ["bomb.npz", "would take 3 GiB once read", "cap of 64 MiB", "parameters and buffers of DeepMLP"]),
    "a .pt bomb of 3 GiB": (["probe", "--config", QUICKSTART, "--weights", "{bombs}/bomb.pt"], ["bomb.pt", "would take 3 GiB"]),
    "a checkpoint bomb of 3 GiB": (["test", "--config", QUICKSTART, "--ckpt_path", "{bombs}/bomb.ckpt"],
                                   ["bomb.ckpt", "would take 3 GiB", "cap of 256 MiB"]),
}


INPUT_FILES = {"an object array": "objects.npy", "a string array": "strings.npy", "an .npz renamed .npy": "archive.npy",
               "an image that is not one": "not_an_image.png"}


@pytest.mark.parametrize("case", list(INPUT_FILES))
def test_bad_probe_input_file_is_one_line(case, hostile, run_cli, fake_mnist):
    name = INPUT_FILES[case]
    result = run_cli("fit", "--config", str(CONFIGS / "mlp_influence.yaml"), *fake_mnist_args(fake_mnist), "--probes.0.files", f"[{name}]")
    assert result.code == 2 and "Traceback" not in result.err, result.err[-2000:]
    lines = [line for line in result.err.splitlines() if line.startswith("latent-probe: error:")]
    assert len(lines) == 1 and f"cannot read input image '{name}'" in lines[0], lines
    assert not (hostile / "runs").exists()


@pytest.mark.parametrize("case", list(CASES))
def test_hostile_file_is_one_line_and_runs_nothing(case, hostile, bombs, run_cli):
    argv, expected = CASES[case]
    bomb = (hostile / "bomb.yaml").read_text().replace("\n", "\n")
    argv = [bomb if a == "{bomb}" else a.replace("{bombs}", str(bombs)) for a in argv]
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    result = run_cli(*argv)
    grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - peak
    assert grown < 1 << 20, f"peak memory grew by {grown >> 10} MiB"  # a bomb refused before it expands
    assert result.code == 2, f"exit {result.code}: {result.err[-2000:]}"
    lines = [line for line in result.err.splitlines() if line.startswith("latent-probe: error:")]
    assert len(lines) == 1 and "Traceback" not in result.err, result.err[-2000:]
    for part in expected:
        assert part in lines[0], lines[0]
    assert not (hostile / "PAYLOAD_RAN").exists(), "the checkpoint's code ran"
    assert not (hostile / "runs").exists(), "a rejected command wrote a run folder"


def test_force_no_weights_only_is_refused(hostile, run_cli, monkeypatch):
    monkeypatch.setenv("TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD", "1")
    result = run_cli("fit", "--config", QUICKSTART, "--ckpt_path", "evil.ckpt")
    assert result.code == 2 and "TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD is set" in result.err
    assert not (hostile / "PAYLOAD_RAN").exists()


def test_lightning_hpc_checkpoint_in_the_working_folder_is_read_safely_first(hostile, run_cli):
    (hostile / "hpc_ckpt_1.ckpt").write_bytes((hostile / "evil.ckpt").read_bytes())
    result = run_cli("fit", "--config", QUICKSTART)
    assert result.code == 2 and "hpc_ckpt_1.ckpt" in result.err and "never unpickles" in result.err
    assert not (hostile / "PAYLOAD_RAN").exists()
