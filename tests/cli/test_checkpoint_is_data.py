"""A checkpoint is data: hyperparameters naming any callable, received inside a run folder, run nothing on any command
or load path. The proof is a marker file that the named code would create (on import, or when called)."""

from __future__ import annotations

import shutil

import pytest
import torch
from helpers.paths import CONFIGS
from helpers.runs import fit_checkpoint

QUICKSTART = str(CONFIGS / "quickstart.yaml")
MARKER = "CODE_RAN"
# A module in the folder the user runs from (a received run folder, say); importing it is running it.
EVIL_MODULE = "import pathlib\npathlib.Path({marker!r}).write_text('imported')\nclass X:\n    pass\n"


def hostile_hparams(module: str, marker: str) -> dict[str, dict]:
    """Every way a checkpoint's recorded settings could name code, keyed by case name."""
    touch = f"touch {marker}"
    hf = {"class_path": "latent_probe.models.backbones.hf_model",
          "init_args": {"model_class": "subprocess.getoutput", "config_class": "os.system", "config": {"command": touch}}}
    return {
        "a _class_path importing a module": {"_class_path": f"{module}.X"},
        "a class_path nested in an argument": {"_class_path": "latent_probe.models.deep_mlp.DeepMLP", "width": 3,
                                                "depth": {"class_path": f"{module}.X"}},
        "a builder naming os.system": {"_class_path": "latent_probe.models.classifier.Classifier", "backbone": hf},
        "an _instantiator": {"_class_path": "latent_probe.models.deep_mlp.DeepMLP", "_instantiator": f"{module}.X"},
        "a plain class_path key": {"class_path": f"{module}.X", "init_args": {}},
    }


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A real quickstart run (2 epochs of a few batches) whose checkpoint is then tampered with as data."""
    folder = tmp_path_factory.mktemp("trained")
    fit_checkpoint(folder, "quickstart", "--config", QUICKSTART, "--trainer.max_epochs=2")
    return folder / "runs" / "quickstart" / "version_0"


def received_run(tmp_path, trained, hparams: dict) -> tuple[str, str]:
    """Copy the trained run into tmp_path with its checkpoints' hyperparameters replaced; returns (run, checkpoint)."""
    run = tmp_path / "runs" / "quickstart" / "version_0"
    shutil.copytree(trained, run)
    for path in (run / "checkpoints").glob("*.ckpt"):
        checkpoint = torch.load(path, weights_only=True)
        checkpoint["hyper_parameters"] = hparams
        checkpoint["datamodule_hyper_parameters"] = hparams
        torch.save(checkpoint, path)
    return str(run), str(run / "checkpoints" / "last.ckpt")


COMMANDS = {
    "fit --ckpt_path FILE": lambda run, ckpt: ["fit", "--config", QUICKSTART, "--ckpt_path", ckpt, "--trainer.max_epochs=3"],
    "fit --ckpt_path last": lambda run, ckpt: ["fit", "--config", QUICKSTART, "--ckpt_path", "last", "--trainer.max_epochs=3"],
    "test --ckpt_path FILE": lambda run, ckpt: ["test", "--config", QUICKSTART, "--ckpt_path", ckpt],
    "validate --ckpt_path last": lambda run, ckpt: ["validate", "--config", QUICKSTART, "--ckpt_path", "last"],
    "predict --ckpt_path FILE": lambda run, ckpt: ["predict", "--config", QUICKSTART, "--ckpt_path", ckpt],
    "probe, README order": lambda run, ckpt: ["probe", "--ckpt_path", ckpt, "--config", f"{run}/config.yaml"],
    "probe, config first": lambda run, ckpt: ["probe", "--config", f"{run}/config.yaml", "--ckpt_path", ckpt],
}


@pytest.mark.parametrize("command", list(COMMANDS))
@pytest.mark.parametrize("case", list(hostile_hparams("m", "x")))
def test_hostile_hyperparameters_run_nothing(case, command, trained, tmp_path, run_cli, monkeypatch):
    module = f"evil_{abs(hash((case, command))) % 10**8}"  # one module per test: an import is cached per process
    marker = tmp_path / MARKER
    (tmp_path / f"{module}.py").write_text(EVIL_MODULE.format(marker=str(marker)))
    monkeypatch.syspath_prepend(str(tmp_path))
    run, ckpt = received_run(tmp_path, trained, hostile_hparams(module, str(marker))[case])
    result = run_cli(*COMMANDS[command](run, ckpt))
    assert not marker.exists(), f"{case} ran code under `{command}`"
    assert result.code == 0, result.err[-3000:]
    assert "Traceback" not in result.err


def warning_lines(record) -> list[str]:
    return [str(w.message) for w in record if "records other model settings" in str(w.message)]


def test_recorded_settings_that_differ_are_named_and_the_config_wins(trained, tmp_path, run_cli, recwarn):
    recorded = {"_class_path": "latent_probe.models.deep_mlp.DeepMLP", "width": 3, "depth": 10, "lr": 0.5,
                "init": "orthogonal\x1b[31m"}
    run, ckpt = received_run(tmp_path, trained, recorded)
    result = run_cli("test", "--config", QUICKSTART, "--ckpt_path", ckpt)
    assert result.code == 0, result.err[-3000:]
    lines = warning_lines(recwarn)
    assert len(lines) == 1, lines
    assert "lr: 0.5 (config: 0.003)" in lines[0] and "\x1b" not in lines[0] and "\\x1b" in lines[0]
    assert "width" not in lines[0], "settings that agree are not named"


def test_recorded_settings_cannot_change_the_model_that_is_built(trained, tmp_path, run_cli, recwarn):
    # Recorded width 64 would build a model the checkpoint's weights do not fit: the config's width 3 is built.
    run, ckpt = received_run(tmp_path, trained, {"_class_path": "latent_probe.models.deep_mlp.DeepMLP", "width": 64})
    result = run_cli("test", "--config", QUICKSTART, "--ckpt_path", ckpt)
    assert result.code == 0, result.err[-3000:]
    assert "width: 64 (config: 3)" in warning_lines(recwarn)[0]


def test_lightning_own_hparams_merge_is_never_reached(monkeypatch, trained, tmp_path, run_cli):
    """Pins the private hook we replace: if LightningCLI's `_parse_ckpt_path` ran, this test would see it."""
    from pytorch_lightning.cli import LightningCLI

    called = []
    monkeypatch.setattr(LightningCLI, "_parse_ckpt_path", lambda self: called.append(True))
    run, ckpt = received_run(tmp_path, trained, {"_class_path": "latent_probe.models.deep_mlp.DeepMLP"})
    assert run_cli("test", "--config", QUICKSTART, "--ckpt_path", ckpt).code == 0
    assert not called


@pytest.mark.parametrize("model_class, config_class, expected", [
    ("subprocess.getoutput", "transformers.ViTConfig", "model_class 'subprocess.getoutput' must name a class of the transformers"),
    ("transformers.ViTForImageClassification", "os.system", "config_class 'os.system' must name a class of the transformers"),
    ("transformers.ViTForImageClassification", "transformers.pipeline", "config_class 'transformers.pipeline' is not a transformers"),
    ("transformers.ViTForImageClassification", "transformers._os", "must name a class of the transformers"),
    ("transformers.NoSuchModel", "transformers.ViTConfig", "transformers has no such class"),
])
def test_hf_builder_takes_only_transformers_classes(model_class, config_class, expected, tmp_path, run_cli):
    backbone = {"class_path": "latent_probe.models.backbones.hf_model",
                "init_args": {"model_class": model_class, "config_class": config_class, "config": {"command": "touch X"}}}
    import json

    result = run_cli("fit", "--model", "Classifier", "--model.backbone", json.dumps(backbone), "--data", "DigitsDataModule")
    assert result.code == 2 and expected in result.err, result.err[-2000:]
    assert not (tmp_path / "X").exists() and not (tmp_path / "runs").exists()
