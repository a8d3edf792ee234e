"""Hostile and broken files a user can point the CLI at: checkpoints carrying pickled code, truncated or empty files,
YAML bombs, non-UTF-8 or empty configs. Each ends in one line, exit 2, no traceback, nothing written, and no payload runs."""

from __future__ import annotations

import os
import pickle

import numpy as np
import pytest
import torch
from helpers.mnist_files import fake_mnist_args
from helpers.paths import CONFIGS

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
    return tmp_path


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
    "a seed numpy cannot take": (["fit", "--config", QUICKSTART, "--seed_everything", "100000000000000000000000"],
                                 ["seed_everything must be in [0, 4294967295]"]),
    "experiment name escaping runs/": (["fit", "--config", QUICKSTART, "--experiment", "../../outside"],
                                        ["experiment '../../outside' must be one folder name"]),
    "probe name escaping its folder": (["fit", "--config", QUICKSTART, "--probes",
                                        '[{"class_path": "LayerTransformRecorder", "init_args": {"name": "../../x"}}]'],
                                       ["probe name '../../x' must be a plain folder name"]),
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
def test_hostile_file_is_one_line_and_runs_nothing(case, hostile, run_cli):
    argv, expected = CASES[case]
    bomb = (hostile / "bomb.yaml").read_text().replace("\n", "\n")
    argv = [bomb if a == "{bomb}" else a for a in argv]
    result = run_cli(*argv)
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
