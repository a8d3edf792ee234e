"""What probes add to training: every shipped config at its shipped epochs, with its probes against without.

Each config runs as ``latent-probe fit`` in a fresh process (MNIST configs on the MNIST-10k split, else fake IDX
files of the same size), timed from the CLI's start to its end inside the process: parsing, the probes' setup
pass, training, the probes' firings and the report. ``ratios.<config>`` = with probes / without (``--probes []``),
paired round by round (goal: <= 1.15 each). ``ratios.bottleneck2d_four_probes_vs_epoch`` is the firing time of
the four probes that fit ``bottleneck2d`` (embedding dumper, linear probe, filter tiler, influence mapper, at their
defaults, once at ``fit_end``) over one training epoch without them (goal: <= 0.5).
``--repeat`` rounds (default 1: a full run takes tens of minutes); ``--configs`` picks some. Short runs are
the noisiest relative to their length on a shared machine (single rounds of a 15-60 s fit differ by +-15-20 %), and
cheap to repeat: a config whose fit without probes takes under ``SHORT_S`` seconds, and the four probes'
epoch measurement, get at least ``SHORT_ROUNDS`` rounds (the ratio is their median).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytorch_lightning as pl
import torch
from _harness import paired_ratio, paired_times, parse_args, summary, write_result
from mnist_loader import data_root

from latent_probe.data import MNISTDataModule
from latent_probe.models import BottleneckClassifier
from latent_probe.probes import EmbeddingDumper, FilterTiler, InfluenceMapper, LinearProbe
from latent_probe.probing import ProbeRunner

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = sorted([*ROOT.glob("configs/*.yaml"), *ROOT.glob("configs/byo/*.yaml")])
TIMED_CLI = "import sys, time; from latent_probe.cli.main import main; t = time.perf_counter(); main(sys.argv[1:]); " \
            "print(f'FIT_SECONDS {time.perf_counter() - t}')"
SHORT_S, SHORT_ROUNDS = 60.0, 3


def fit_seconds(config: Path, probes: bool, mnist: Path) -> float:
    """Seconds ``latent-probe fit --config CONFIG`` takes in a fresh process (with or without its probes)."""
    args = ["fit", "--config", str(config), "--trainer.enable_progress_bar=false", "--trainer.accelerator=cpu",
            "--trainer.devices=1"]
    if "MNISTDataModule" in config.read_text():
        args += ["--data.root", str(mnist), "--data.download", "false"]
    if not probes:
        args += ["--probes", "[]"]
    with tempfile.TemporaryDirectory() as folder:
        done = subprocess.run([sys.executable, "-c", TIMED_CLI, *args], cwd=folder, capture_output=True, text=True,
                              env={**os.environ, "PYTHONWARNINGS": "ignore"})
    lines = [line for line in done.stdout.splitlines() if line.startswith("FIT_SECONDS")]
    if done.returncode != 0 or not lines:
        raise RuntimeError(f"{config.name} failed:\n{done.stderr[-3000:]}")
    return float(lines[-1].split()[1])


def four_probes() -> list:
    """The probes that fit the bottleneck CNN, with their defaults."""
    return [EmbeddingDumper(layers=["bottleneck", "bottleneck_act"]), LinearProbe(), FilterTiler(layers=["features.conv1"]),
            InfluenceMapper(layers=["bottleneck"])]


def one_epoch(data: MNISTDataModule, probes: list) -> None:
    """One training epoch of the bottleneck CNN (no validation), logging to a throw-away folder."""
    with tempfile.TemporaryDirectory() as folder:
        callbacks = [ProbeRunner(probes)] if probes else []
        trainer = pl.Trainer(max_epochs=1, accelerator="cpu", default_root_dir=folder, enable_checkpointing=False,
                             enable_progress_bar=False, enable_model_summary=False, limit_val_batches=0, callbacks=callbacks)
        trainer.fit(BottleneckClassifier(), datamodule=data)


def config_times(config: Path, repeat: int, mnist: Path) -> dict[str, list[float]]:
    """Paired fit seconds without and with the config's probes: ``repeat`` rounds, ``SHORT_ROUNDS`` for short fits."""
    variants = {"bare": lambda: fit_seconds(config, False, mnist), "probes": lambda: fit_seconds(config, True, mnist)}
    times = paired_times(variants, repeat, warmup=0)
    if repeat < SHORT_ROUNDS and min(times["bare"]) < SHORT_S:
        for name, values in paired_times(variants, SHORT_ROUNDS - repeat, warmup=0).items():
            times[name] += values
    return times


def main() -> None:
    """Measure and report."""
    args = parse_args(__doc__.splitlines()[0], lambda p: (p.set_defaults(repeat=1, threads=os.cpu_count() or 1),
                                                          p.add_argument("--configs", nargs="*", default=None)))
    mnist = data_root()
    chosen = [c for c in CONFIGS if not args.configs or c.stem in args.configs]
    figures, ratios = {}, {}
    for config in chosen:
        times = config_times(config, args.repeat, mnist)
        figures[config.stem] = {f"{name}_s": summary(values) for name, values in times.items()}
        ratios[config.stem] = paired_ratio(times["probes"], times["bare"])["median"]
        print(f"{config.stem:20s} without probes {figures[config.stem]['bare_s']['median']:7.1f}s  with "
              f"{figures[config.stem]['probes_s']['median']:7.1f}s  ratio {ratios[config.stem]:.2f} (goal <= 1.15)", flush=True)
    torch.manual_seed(0)
    data = MNISTDataModule(root=str(mnist), download=False, batch_size=64)  # configs/bottleneck2d.yaml's batch
    data.setup("fit")
    epoch = paired_times({"bare": lambda: one_epoch(data, []), "probes": lambda: one_epoch(data, four_probes())},
                         max(SHORT_ROUNDS, args.repeat), warmup=0)
    firing = [p - b for p, b in zip(epoch["probes"], epoch["bare"])]
    figures["bottleneck2d_epoch"] = {"bare_s": summary(epoch["bare"]), "four_probes_firing_s": summary(firing)}
    ratios["bottleneck2d_four_probes_vs_epoch"] = summary([f / b for f, b in zip(firing, epoch["bare"])])["median"]
    print(f"bottleneck2d: one epoch {summary(epoch['bare'])['median']:.1f}s, the four probes' firing "
          f"{summary(firing)['median']:.1f}s = {ratios['bottleneck2d_four_probes_vs_epoch']:.2f} epochs (goal <= 0.5)")
    write_result("fit_overhead", figures, ratios, args.json)


if __name__ == "__main__":
    main()
