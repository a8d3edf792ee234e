"""Start-up: the commands that build no model (``--help``, ``--version``, ``list``, ``report``, the errors found before a
model is built) import neither torch nor Lightning, each checked in a fresh process; the commands that do still import them.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import latent_probe
from latent_probe.cli.names import SUBCOMMANDS
from latent_probe.registry import PLUGIN_GROUP

HEAVY = ("torch", "pytorch_lightning", "lightning_fabric")
MARK = "IMPORTED:"
# Runs the command as the `latent-probe` script does, then reports which of HEAVY the process imported.
PROBE_SCRIPT = (
    "import json, sys\n"
    "from latent_probe.cli.main import main\n"
    "code = 0\n"
    "try:\n"
    "    main(sys.argv[1:])\n"
    "except SystemExit as stop:\n"
    "    code = stop.code\n"
    f"print({MARK!r} + json.dumps(sorted(m for m in {HEAVY!r} if m in sys.modules)), file=sys.stderr)\n"
    "sys.exit(code)\n"
)


def run_fresh(*args: str, cwd: Path, timeout: float = 300) -> tuple[int, str, str, list[str]]:
    """``latent-probe ARGS`` in a new interpreter: exit status, stdout, stderr (the mark removed), heavy modules imported."""
    env = dict(os.environ)
    if importlib.metadata.entry_points(group=PLUGIN_GROUP):  # an installed plugin may import torch itself
        env["LATENT_PROBE_DISABLE_PLUGINS"] = "1"
    done = subprocess.run([sys.executable, "-c", PROBE_SCRIPT, *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=timeout)
    lines = done.stderr.splitlines()
    marks = [line for line in lines if line.startswith(MARK)]
    assert marks, f"the command did not come back to the check (exit {done.returncode}): {done.stderr[-2000:]}"
    err = "".join(line + "\n" for line in lines if not line.startswith(MARK))
    return done.returncode, done.stdout, err, json.loads(marks[-1][len(MARK):])


def make_run(root: Path) -> Path:
    """A small run folder as a fit leaves it (config, a TensorBoard scalar, one probe moment), written without torch."""
    from tensorboard.compat.proto import event_pb2, summary_pb2
    from tensorboard.summary.writer.event_file_writer import EventFileWriter

    run = root / "runs" / "x" / "version_0"
    moment = run / "probes" / "linear_probe" / "fit_end"
    moment.mkdir(parents=True)
    (run / "config.yaml").write_text("model:\n  class_path: DeepMLP\n")
    writer = EventFileWriter(str(run))
    summary = summary_pb2.Summary(value=[summary_pb2.Summary.Value(tag="val/acc", simple_value=0.75)])
    writer.add_event(event_pb2.Event(wall_time=1.0, step=1, summary=summary))
    writer.close()
    (moment / "manifest.json").write_text(json.dumps({"probe": "linear_probe", "description": "accuracy by depth"}))
    (moment / "metrics.json").write_text(json.dumps({"accuracy": {"encoder": 0.9}}))
    (moment / ".complete").write_bytes(b"")
    return run


@pytest.fixture
def folder(tmp_path) -> Path:
    (tmp_path / "bad.yaml").write_text("model: [1, 2\n")
    (tmp_path / "typo.yaml").write_text("model: DeepMLP\ntrainer:\n  max_epoch: 3\n")
    make_run(tmp_path)
    return tmp_path


def test_help_version_list_and_report_import_no_torch(folder):
    code, out, err, heavy = run_fresh("--help", cwd=folder)
    assert (code, heavy) == (0, []) and out.startswith("usage: latent-probe") and "subcommands:" in out, err
    code, out, err, heavy = run_fresh("--version", cwd=folder)
    assert (code, out, heavy) == (0, f"latent-probe {latent_probe.__version__}\n", []), err
    code, out, err, heavy = run_fresh("list", cwd=folder)
    assert (code, heavy) == (0, []), err
    assert "DeepMLP" in out and "Toy2DDataModule" in out and "LinearProbe" in out
    code, out, err, heavy = run_fresh("report", "runs/x/version_0", cwd=folder)
    assert (code, heavy) == (0, []), err
    page = (folder / "runs" / "x" / "version_0" / "report.html").read_text()
    assert out.strip().endswith("report.html") and "val/acc" in page and "0.75" in page and "accuracy by depth" in page


@pytest.mark.parametrize(("args", "message"), [
    (["frobnicate"], "argument subcommand: invalid choice: 'frobnicate' (choose from 'fit', 'validate', 'test', 'predict', "
                     "'probe', 'compare')"),
    (["compare", "--config", "typo.yaml", "--reference", "b.ckpt"], "unknown trainer option 'max_epoch'"),
    (["compare", "--ckpt_path", "a.ckpt"], "compare needs --reference B: initial (the model as built), a Lightning checkpoint"),
    (["compare", "--reference", "b.ckpt", "--probes", "[]"], "compare runs one ModelSimilarity probe"),
    (["fit", "--config", "missing.yaml"], "config file not found: 'missing.yaml'"),
    (["fit", "--config", "bad.yaml"], "config file 'bad.yaml' is not valid YAML at line 2, column 1: expected ',' or ']', "
                                      "but got '<stream end>'"),
    (["probe", "-c", "bad.yaml"], "config file 'bad.yaml' is not valid YAML at line 2, column 1"),
    (["layers", "--config", "missing.yaml"], "config file not found: 'missing.yaml'"),
    (["fit", "--config", "typo.yaml"], "unknown trainer option 'max_epoch'; valid choices: max_epochs, min_epochs"),
    (["fit", "--config", "typo.yaml", "--model.depht", "3"], "unknown trainer option 'max_epoch'"),
    (["validate", "--model", "DeepMLP", "--model.depht", "3"], "unknown model option 'depht'; valid choices: depth, "),
    (["report"], "usage: latent-probe report RUN_DIR"),
    (["report", "nowhere"], "run folder not found: 'nowhere'"),
])
def test_errors_that_need_no_model_import_no_torch(folder, args, message):
    code, out, err, heavy = run_fresh(*args, cwd=folder)
    assert code == 2 and heavy == [] and out == "", err
    assert err.startswith(f"latent-probe: error: {message}") and len(err.splitlines()) == 1, err


def test_the_commands_that_build_a_model_still_import_lightning(folder):
    """The check above is not vacuous: a command that needs Lightning shows it imported, through the same script."""
    code, out, err, heavy = run_fresh("fit", "--help", cwd=folder)
    assert code == 0 and "--trainer.max_epochs" in out, err
    assert set(heavy) == set(HEAVY)


def test_the_package_is_light_and_its_names_load_on_first_use(tmp_path):
    script = (
        "import sys\n"
        "import latent_probe\n"
        "from latent_probe import list_probes, register_probe, get_model, probe, DATAMODULES\n"
        "assert 'torch' not in sys.modules, 'import latent_probe imported torch'\n"
        "assert 'LinearProbe' in list_probes() and 'Toy2DDataModule' in DATAMODULES\n"
        "assert 'torch' not in sys.modules, 'listing names imported torch'\n"
        "from latent_probe import ProbeRunner\n"
        "from latent_probe.models import DeepMLP\n"
        "assert 'pytorch_lightning' in sys.modules and latent_probe.models.DeepMLP is DeepMLP\n"
        "assert get_model('DeepMLP').__class__ is DeepMLP and ProbeRunner.__name__ == 'ProbeRunner'\n"
        "print('ok')\n"
    )
    done = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0 and done.stdout == "ok\n", done.stderr[-2000:]


def test_the_early_subcommand_check_knows_lightnings_subcommands():
    from latent_probe.cli.lightning_cli import LatentProbeCLI

    assert tuple(LatentProbeCLI.subcommands()) == SUBCOMMANDS
