"""Unknown keys of Trainer and the built-in components are refused before Lightning is imported, naming the valid keys;
keys of a user's own class are left to jsonargparse; the table the check reads is jsonargparse's own view, kept current."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers.paths import CONFIGS

from latent_probe.cli.known_options import KNOWN_OPTIONS, accepted_options
from latent_probe.cli.names import resolve_argv_names
from latent_probe.cli.option_keys import check_option_keys
from latent_probe.errors import UnknownNameError


def test_the_table_is_what_jsonargparse_accepts():
    """Stale after a signature change: rewrite it with `python -m latent_probe.cli.known_options`."""
    assert accepted_options() == KNOWN_OPTIONS


@pytest.mark.parametrize("config", sorted(CONFIGS.rglob("*.yaml")), ids=lambda p: str(p.relative_to(CONFIGS)))
def test_every_shipped_config_passes(config):
    check_option_keys(resolve_argv_names(["fit", "--config", str(config)]))


def test_the_readme_options_pass():
    check_option_keys(resolve_argv_names(["fit", "--config", str(CONFIGS / "toy_moons.yaml"), "--model.depth", "5",
                                          "--trainer.max_epochs", "30", "--trainer.callbacks+=EarlyStopping",
                                          "--data.init_args.batch_size", "8", "--probes.0.every_n_epochs", "2"]))


def write(tmp_path: Path, text: str) -> str:
    path = tmp_path / "c.yaml"
    path.write_text(text)
    return str(path)


@pytest.mark.parametrize(("text", "options", "message"), [
    ("trainer:\n  max_epoch: 3\n", [], "unknown trainer option 'max_epoch'; valid choices: max_epochs"),
    ("fit:\n  trainer:\n    devics: 1\n", [], "unknown trainer option 'devics'; valid choices: devices"),
    ("model:\n  class_path: DeepMLP\n  init_args:\n    depht: 3\n", [], "unknown model option 'depht'; valid choices: depth"),
    ("data:\n  class_path: latent_probe.data.toy2d.Toy2DDataModule\n  init_args:\n    nosie: 0.1\n", [],
     "unknown data option 'nosie'; valid choices: noise"),
    ("probes:\n  - class_path: LinearProbe\n    init_args:\n      layer: [a]\n", [], "unknown probes.0 option 'layer'; valid "
     "choices: layers"),
    ("model: DeepMLP\n", ["--model.widht", "3"], "unknown model option 'widht'; valid choices: width"),
    ("model: DeepMLP\n", ["--model.init_args.widht", "3"], "unknown model option 'widht'"),
    ("model: DeepMLP\n", ["--model", "VAE", "--model.depth", "3"], "unknown model option 'depth'; valid choices: "),
    ("model: DeepMLP\n", ["--trainer.max_epoch=3"], "unknown trainer option 'max_epoch'"),
    ("probes:\n  - class_path: LinearProbe\n", ["--probes.0.layer", "[a]"], "unknown probes.0 option 'layer'"),
])
def test_a_typo_is_refused_with_the_valid_keys(tmp_path, text, options, message):
    with pytest.raises(UnknownNameError) as caught:
        check_option_keys(resolve_argv_names(["fit", "--config", write(tmp_path, text), *options]))
    assert str(caught.value).startswith(message), caught.value
    assert "HINT: " in str(caught.value) and "\n" not in str(caught.value)


@pytest.mark.parametrize(("text", "options"), [
    ("model:\n  class_path: helpers.any_models.PlainAutoencoder\n  init_args:\n    anything: 1\n", []),  # the user's class
    ("model: helpers.any_models.PlainAutoencoder\n", ["--model.anything", "1"]),
    ("model: DeepMLP\n", ["--model", "model.yaml", "--model.anything", "1"]),  # a file: its class is not read here
    ("trainer:\n  logger:\n    class_path: TensorBoardLogger\n    init_args:\n      anything: 1\n", []),  # nested: jsonargparse's
])
def test_what_is_not_known_for_sure_is_left_to_jsonargparse(tmp_path, text, options):
    (tmp_path / "model.yaml").write_text("class_path: DeepMLP\n")
    argv = ["fit", "--config", write(tmp_path, text), *options]
    check_option_keys(argv)
