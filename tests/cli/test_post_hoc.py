"""The README's post-hoc command writes into the run with the checkpoint's weights, whatever the argument order;
each post-hoc moment keeps its own config; the options that choose what is loaded win over config files."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
import torch
import yaml
from helpers.paths import CONFIGS
from helpers.runs import fit_checkpoint

from latent_probe.cli.argv_order import command_line_wins

RUN = "runs/quickstart/version_0"
README_ORDER = ["probe", "--ckpt_path", f"{RUN}/checkpoints/last.ckpt", "--config", f"{RUN}/config.yaml"]
CONFIG_FIRST = ["probe", "--config", f"{RUN}/config.yaml", "--ckpt_path", f"{RUN}/checkpoints/last.ckpt"]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A quickstart run trained for 2 short epochs (its weights are far from the seed's initial ones)."""
    folder = tmp_path_factory.mktemp("trained")
    fit_checkpoint(folder, "quickstart", "--config", str(CONFIGS / "quickstart.yaml"), "--trainer.max_epochs=2")
    return folder / RUN


def numpy_forward(state: dict, points: np.ndarray) -> np.ndarray:
    """The quickstart's DeepMLP (Linear + tanh ..., Linear + sigmoid) in float64 NumPy, from a state_dict."""
    x = points.astype(np.float64)
    linears = [key[:-len(".weight")] for key in state if key.endswith(".weight")]
    for n, name in enumerate(linears):
        x = x @ state[f"{name}.weight"].double().numpy().T + state[f"{name}.bias"].double().numpy()
        x = 1 / (1 + np.exp(-x)) if n == len(linears) - 1 else np.tanh(x)
    return x


@pytest.mark.parametrize("argv", [README_ORDER, CONFIG_FIRST], ids=["readme order", "config first"])
def test_post_hoc_probe_uses_the_checkpoint_and_writes_into_its_run(argv, trained, tmp_path, run_cli):
    shutil.copytree(trained, tmp_path / RUN)
    for moment in ("probe", "probe-2"):
        result = run_cli(*argv, shrink=False)
        assert result.code == 0, result.err[-3000:]
        assert sorted(p.name for p in (tmp_path / "runs" / "quickstart").iterdir()) == ["version_0"], "no new run folder"
        with np.load(tmp_path / RUN / "probes" / "layer_transform_recorder" / moment / "steps.npz") as steps:
            points, output = steps["input"], steps["net.output_act"]
        state = torch.load(tmp_path / RUN / "checkpoints" / "last.ckpt", weights_only=True)["state_dict"]
        np.testing.assert_allclose(output, numpy_forward(state, points), atol=1e-5)
        config = yaml.safe_load((tmp_path / RUN / f"{moment}_config.yaml").read_text())
        assert "ckpt_path" not in config and config["probes"][0]["class_path"].endswith("LayerTransformRecorder")
    untrained = {key: torch.nn.init.normal_(value.clone()) for key, value in state.items()}
    assert not np.allclose(output, numpy_forward(untrained, points), atol=1e-3), "the comparison can tell weights apart"
    assert "ckpt_path" not in yaml.safe_load((tmp_path / RUN / "config.yaml").read_text())


def test_a_second_post_hoc_run_with_other_probes_gets_its_own_moment_and_config(trained, tmp_path, run_cli):
    """Moments are points of the run's history: a run with other probes must not take ``probe`` again, or it would
    overwrite the first run's ``probe_config.yaml``."""
    shutil.copytree(trained, tmp_path / RUN)
    assert run_cli(*README_ORDER, shrink=False).code == 0
    first = (tmp_path / RUN / "probe_config.yaml").read_text()
    other = '--probes=[{"class_path": "UnitStats", "init_args": {"max_samples": 50}}]'
    result = run_cli(*README_ORDER, other, shrink=False)
    assert result.code == 0, result.err[-3000:]
    assert (tmp_path / RUN / "probe_config.yaml").read_text() == first
    assert "UnitStats" in (tmp_path / RUN / "probe-2_config.yaml").read_text()
    assert (tmp_path / RUN / "probes" / "unit_stats" / "probe-2" / "stats.json").is_file()
    assert not (tmp_path / RUN / "probes" / "unit_stats" / "probe").exists()


def test_an_old_saved_config_with_ckpt_path_null_does_not_reset_the_flag(trained, tmp_path, run_cli):
    shutil.copytree(trained, tmp_path / RUN)
    config = yaml.safe_load((tmp_path / RUN / "config.yaml").read_text())
    (tmp_path / "old_config.yaml").write_text(yaml.safe_dump({**config, "ckpt_path": None}))
    result = run_cli("probe", "--ckpt_path", f"{RUN}/checkpoints/last.ckpt", "--config", "old_config.yaml", shrink=False)
    assert result.code == 0, result.err[-3000:]
    assert (tmp_path / RUN / "probes" / "layer_transform_recorder" / "probe" / "steps.npz").is_file()


@pytest.mark.parametrize("argv, expected", [
    (["probe", "--ckpt_path", "a.ckpt", "--config", "x.yaml"], ["probe", "--config", "x.yaml", "--ckpt_path", "a.ckpt"]),
    (["fit", "--weights=w.npz", "-c", "a.yaml", "--trainer.max_epochs", "3", "--config", "b.yaml", "--model.width", "4"],
     ["fit", "-c", "a.yaml", "--trainer.max_epochs", "3", "--config", "b.yaml", "--weights=w.npz", "--model.width", "4"]),
    (["fit", "--probes.0.layers", "[a]", "--experiment", "e", "--config", "x.yaml"],
     ["fit", "--config", "x.yaml", "--probes.0.layers", "[a]", "--experiment", "e"]),
    (["fit", "--config", "x.yaml", "--ckpt_path", "last"], ["fit", "--config", "x.yaml", "--ckpt_path", "last"]),
    (["fit", "--model.width", "3", "--config", "x.yaml"], ["fit", "--model.width", "3", "--config", "x.yaml"]),
    (["fit", "--data_spec.input_key", "x", "--config", "a.yaml"], ["fit", "--config", "a.yaml", "--data_spec.input_key", "x"]),
    (["list", "probes"], ["list", "probes"]),
])
def test_options_that_choose_what_is_loaded_come_after_the_config_files(argv, expected):
    assert command_line_wins(argv) == expected
