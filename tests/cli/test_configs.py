"""Smoke test: every shipped config trains, shrunk, through ``latent-probe fit``; MNIST ones on fake IDX files."""

import pytest
import torch
import yaml
from helpers.mnist_files import fake_mnist_args, write_fake_mnist
from helpers.paths import CONFIGS
from helpers.runs import latest_run

SHIPPED = sorted(CONFIGS.glob("*.yaml"))


def reads_mnist(config: dict) -> bool:
    """Whether the config's datamodule is MNIST-like (it then needs files on disk)."""
    data = config.get("data") or {}
    return str(data.get("class_path", "")).split(".")[-1] == "MNISTDataModule"


@pytest.mark.parametrize("config_file", SHIPPED, ids=[path.stem for path in SHIPPED])
def test_shipped_config_fits_shrunk(run_cli, tmp_path, config_file):
    config = yaml.safe_load(config_file.read_text())
    extra = fake_mnist_args(write_fake_mnist(tmp_path / "mnist")) if reads_mnist(config) else []
    result = run_cli("fit", "--config", str(config_file), *extra)
    assert result.code == 0, result.err[-3000:]
    checkpoint = latest_run(tmp_path, config_file.stem) / "checkpoints" / "last.ckpt"
    state = torch.load(checkpoint, map_location="cpu", weights_only=True)  # nothing in it needs unpickling
    assert state["state_dict"]
