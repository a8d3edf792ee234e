"""The CLI end to end: a real fit writes its run folder; bad input ends in one line and exit 2."""

import pytest
import yaml
from helpers.paths import CONFIGS
from helpers.runs import latest_run, run_subprocess

QUICKSTART = str(CONFIGS / "quickstart.yaml")


def test_fit_quickstart_writes_run_folder(run_cli, tmp_path):
    result = run_cli("fit", "--config", QUICKSTART)
    assert result.code == 0, result.err
    run = latest_run(tmp_path, "quickstart")
    assert list(run.glob("events.out.tfevents.*"))
    assert (run / "checkpoints" / "last.ckpt").is_file()
    saved = yaml.safe_load((run / "config.yaml").read_text())
    assert saved["model"]["class_path"] == "latent_probe.models.deep_mlp.DeepMLP"
    assert saved["trainer"]["logger"]["init_args"]["name"] == "quickstart"
    assert saved["seed_everything"] == 0


def test_experiment_key_names_the_run_and_short_names_work(run_cli, tmp_path):
    result = run_cli("fit", "--model", "DeepMLP", "--data", "Toy2DDataModule", "--experiment", "mine")
    assert result.code == 0, result.err
    assert (latest_run(tmp_path, "mine") / "checkpoints" / "last.ckpt").is_file()


def test_fit_then_test_from_checkpoint(run_cli, tmp_path):
    assert run_cli("fit", "--config", QUICKSTART).code == 0
    checkpoint = latest_run(tmp_path, "quickstart") / "checkpoints" / "last.ckpt"
    result = run_cli("test", "--config", QUICKSTART, "--ckpt_path", str(checkpoint))
    assert result.code == 0, result.err
    assert "test/acc" in result.out


def test_subprocess_fit_and_print_config(tmp_path):
    shrink = ["--trainer.max_epochs=1", "--trainer.limit_train_batches=2", "--trainer.limit_val_batches=1"]
    done = run_subprocess("fit", "--config", QUICKSTART, *shrink, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    run = latest_run(tmp_path, "quickstart")
    assert (run / "config.yaml").is_file() and (run / "checkpoints" / "last.ckpt").is_file()
    printed = run_subprocess("fit", "--config", QUICKSTART, "--print_config", cwd=tmp_path)
    assert printed.returncode == 0
    assert yaml.safe_load(printed.stdout)["model"]["init_args"]["depth"] == 10


BAD_INPUTS = [
    (["fit", "--config", QUICKSTART, "--model", "DeepMLp"], "unknown model 'DeepMLp'; valid choices: DeepMLP"),
    (["fit", "--config", QUICKSTART, "--data", "Toy2D"], "unknown datamodule 'Toy2D'; valid choices: Toy2DDataModule"),
    (["fit", "--config", QUICKSTART, "--probes", '[{"class_path": "NoSuchProbe"}]'], "NoSuchProbe"),
    (["fit", "--config", "missing.yaml"], "config file not found: 'missing.yaml'"),
    (["fit", "--config", QUICKSTART, "--ckpt_path", "nowhere.ckpt"], "checkpoint file not found: 'nowhere.ckpt'"),
    (["fit", "--config", QUICKSTART, "--trainer.no_such_key", "1"], "no_such_key"),
    (["fit", "--config", QUICKSTART, "--model.init_args.widht", "3"], "widht"),
    (["fit", "--config", QUICKSTART, "--model.width", "0"], "width must be >= 1 and <= 1000000, got 0"),
    (["fit", "--config", QUICKSTART, "--data.kind", "ring"], "ring"),
    (["fit", "--config", QUICKSTART, "--trainer.max_epochs", "-2"], "max_epochs"),
    (["fit", "--config", QUICKSTART, "--trainer.accelerator", "tpuu"], "tpuu"),
    (["frobnicate"], "frobnicate"),
    (["list", "gadgets"], "unknown list kind 'gadgets'; valid choices: models, datamodules, probes"),
]


@pytest.mark.parametrize(("argv", "expected"), BAD_INPUTS, ids=[" ".join(a[-2:]) for a, _ in BAD_INPUTS])
def test_bad_input_is_one_line_exit_2(run_cli, argv, expected):
    result = run_cli(*argv, shrink=False)
    assert result.code == 2
    lines = [line for line in result.err.splitlines() if line.startswith("latent-probe: error:")]
    assert len(lines) == 1, result.err
    assert expected in lines[0]
    assert "Traceback" not in result.err


def test_bad_yaml_is_one_line(run_cli, tmp_path):
    (tmp_path / "broken.yaml").write_text("model:\n  class_path: DeepMLP\n   init_args: [\n")
    result = run_cli("fit", "--config", str(tmp_path / "broken.yaml"), shrink=False)
    assert result.code == 2 and "is not valid YAML at line" in result.err


def test_bad_input_as_subprocess_has_no_traceback(tmp_path):
    done = run_subprocess("fit", "--config", QUICKSTART, "--model", "Nope", cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines()[-1].startswith("latent-probe: error: unknown model 'Nope'")
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "runs").exists(), "a rejected command must not write anything"


def test_list_shows_every_kind(run_cli):
    result = run_cli("list", shrink=False)
    assert result.code == 0
    rows = [line.split(None, 2) for line in result.out.splitlines()]
    deep_mlp = next(r for r in rows if r[:2] == ["model", "DeepMLP"])
    assert deep_mlp[2].startswith("A stack of equal-width tanh layers")
    assert [r[0] for r in rows] == sorted((r[0] for r in rows), key=["model", "datamodule", "probe"].index)
    assert any(r[:2] == ["datamodule", "Toy2DDataModule"] for r in rows)
    only_models = run_cli("list", "models", shrink=False).out.splitlines()
    assert only_models and all(line.startswith("model ") for line in only_models)
