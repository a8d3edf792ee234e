"""Start-up: what the command costs before it does anything, each variant a fresh process timed from outside.

``import_lightning`` is ``python -c "import pytorch_lightning"`` (torch, torchmetrics, torchvision's models: the floor of
any command that builds a model). Against it: ``latent-probe --help``, ``list``, ``report RUN_DIR`` (a small run folder
written here: config, TensorBoard scalars, one probe moment with a picture), which import neither torch nor Lightning
(``help_vs_import_lightning``, ``report_vs_import_lightning``: goal <= 0.15), and the one-line error of a typo in a
Trainer key (``typo_error_vs_import_lightning``); and ``latent-probe fit --config
configs/quickstart.yaml`` up to its first training batch (the process ends in ``on_train_batch_start``: parsing, the
config checks, building model and data, the probes' setup pass) against ``import pytorch_lightning`` plus building
the quickstart model (``first_step_vs_import_and_build``: goal <= 1.3). Rounds are paired (``--repeat``, default 3,
after one warm-up round), and the load average is recorded: this machine is shared.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from _harness import paired_ratio, paired_times, parse_args, summary, write_result
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
QUICKSTART = ROOT / "configs" / "quickstart.yaml"
CLI = [sys.executable, "-m", "latent_probe.cli"]
# `latent-probe fit` that ends its process at the first training batch (after everything a fit does before training).
FIRST_STEP = (
    "import os, sys\n"
    "import pytorch_lightning as pl\n"
    "from latent_probe.cli.main import main\n"
    "def first_step(*args, **kwargs):\n"
    "    sys.stdout.flush()\n"
    "    os._exit(0)\n"
    "pl.LightningModule.on_train_batch_start = first_step\n"
    "main(sys.argv[1:])\n"
    "sys.exit('the fit ended without a training step')\n"
)
# The floor of that: Lightning imported and the quickstart's model built; both end with os._exit (no interpreter teardown).
IMPORT_AND_BUILD = (
    "import os, sys, yaml\n"
    "import pytorch_lightning\n"
    "import latent_probe\n"
    "model = yaml.safe_load(open(sys.argv[1]))['model']\n"
    "latent_probe.get_model(model['class_path'], **model['init_args'])\n"
    "sys.stdout.flush()\n"
    "os._exit(0)\n"
)


def run(command: list[str], cwd: Path, expect: int = 0) -> None:
    """Run one fresh process to its end; another exit status than ``expect`` stops the benchmark."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT / "src"), os.environ.get("PYTHONPATH")])),
           "PYTHONWARNINGS": "ignore"}
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True)
    if done.returncode != expect:
        raise RuntimeError(f"{command[2:]} failed (exit {done.returncode}):\n{done.stderr[-3000:]}")


def make_run(root: Path) -> Path:
    """A small run folder as a fit leaves it: config, TensorBoard scalars, one probe moment (manifest, table, picture)."""
    from tensorboard.compat.proto import event_pb2, summary_pb2
    from tensorboard.summary.writer.event_file_writer import EventFileWriter

    run_dir = root / "report" / "version_0"
    moment = run_dir / "probes" / "layer_transform_recorder" / "fit_end"
    moment.mkdir(parents=True)
    (run_dir / "config.yaml").write_text(QUICKSTART.read_text())
    writer = EventFileWriter(str(run_dir))
    for step in range(100):
        values = [summary_pb2.Summary.Value(tag=tag, simple_value=1.0 / (step + 1)) for tag in ("train/loss", "val/loss")]
        writer.add_event(event_pb2.Event(wall_time=1.0 + step, step=step, summary=summary_pb2.Summary(value=values)))
    writer.close()
    (moment / "manifest.json").write_text(json.dumps({"probe": "layer_transform_recorder", "description": "points by step",
                                                      "layers": [{"layer": "net.hidden_layers.0"}]}))
    (moment / "metrics.json").write_text(json.dumps({"steps": list(range(20))}))
    Image.fromarray(np.full((64, 64, 3), 200, np.uint8)).save(moment / "panels.png")
    (moment / ".complete").write_bytes(b"")
    return run_dir


def main() -> None:
    """Measure and report."""
    args = parse_args(__doc__.splitlines()[0], lambda p: p.set_defaults(repeat=3))
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory() as folder:
        cwd = Path(folder)
        run_dir = make_run(cwd)
        variants = {
            "import_lightning": lambda: run([sys.executable, "-c", "import pytorch_lightning"], cwd),
            "help": lambda: run([*CLI, "--help"], cwd),
            "list": lambda: run([*CLI, "list"], cwd),
            "report": lambda: run([*CLI, "report", str(run_dir)], cwd),
            # A typo in a Trainer key: one line naming the valid keys, exit 2, before Lightning is imported.
            "typo_error": lambda: run([*CLI, "fit", "--config", str(QUICKSTART), "--trainer.max_epoch=3"], cwd, expect=2),
            "import_and_build": lambda: run([sys.executable, "-c", IMPORT_AND_BUILD, str(QUICKSTART)], cwd),
            "first_step": lambda: run([sys.executable, "-c", FIRST_STEP, "fit", "--config", str(QUICKSTART),
                                       "--trainer.enable_progress_bar=false"], cwd),
        }
        started = time.perf_counter()
        times = paired_times(variants, args.repeat)
        elapsed = time.perf_counter() - started
    figures = {f"{name}_s": summary(values) for name, values in times.items()}
    figures["load_average_1min"] = {"before": load_before[0], "after": os.getloadavg()[0]}
    figures["elapsed_s"] = elapsed
    ratios = {
        "help_vs_import_lightning": paired_ratio(times["help"], times["import_lightning"])["median"],
        "list_vs_import_lightning": paired_ratio(times["list"], times["import_lightning"])["median"],
        "report_vs_import_lightning": paired_ratio(times["report"], times["import_lightning"])["median"],
        "typo_error_vs_import_lightning": paired_ratio(times["typo_error"], times["import_lightning"])["median"],
        "first_step_vs_import_and_build": paired_ratio(times["first_step"], times["import_and_build"])["median"],
    }
    for name in variants:
        print(f"{name:18s} {figures[name + '_s']['median']:6.2f} s (min {figures[name + '_s']['min']:.2f}, "
              f"max {figures[name + '_s']['max']:.2f})")
    goals = {"help_vs_import_lightning": "<= 0.15", "list_vs_import_lightning": "", "report_vs_import_lightning": "<= 0.15",
             "typo_error_vs_import_lightning": "", "first_step_vs_import_and_build": "<= 1.3"}
    for name, value in ratios.items():
        print(f"{name:32s} {value:.3f}" + (f" (goal {goals[name]})" if goals[name] else ""))
    print(f"load average {load_before[0]:.2f} before, {figures['load_average_1min']['after']:.2f} after")
    write_result("startup", figures, ratios, args.json)


if __name__ == "__main__":
    main()
