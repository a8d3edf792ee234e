"""The ``latent-probe`` command: LightningCLI with registered names, probes and sensible defaults.

Example:
    $ latent-probe fit --config configs/quickstart.yaml
    $ latent-probe fit --config configs/toy_moons.yaml --model.depth 5 --trainer.max_epochs 30
    $ latent-probe probe --config configs/quickstart.yaml --ckpt_path runs/quickstart/version_0/checkpoints/last.ckpt
    $ latent-probe list probes
"""

from __future__ import annotations

import errno
import signal
import sys
from pathlib import Path
from typing import Any

import pytorch_lightning as pl
from jsonargparse import Namespace, set_loader
from lightning_fabric.utilities.exceptions import MisconfigurationException
from pytorch_lightning.callbacks import Callback, ModelCheckpoint, RichModelSummary, RichProgressBar
from pytorch_lightning.cli import LightningArgumentParser, LightningCLI
from pytorch_lightning.utilities.exceptions import SIGTERMException

import latent_probe  # noqa: F401  registers the built-in components
from latent_probe.component_names import resolve_argv_names, yaml_loader_resolving_names
from latent_probe.errors import ConfigError, LatentProbeError, find_user_error
from latent_probe.interrupt_checkpoint import InterruptCheckpoint
from latent_probe.listing import print_registered
from latent_probe.parse_errors import condense_parser_error
from latent_probe.probes.base import Probe
from latent_probe.registry import load_plugins
from latent_probe.report import write_report
from latent_probe.trainer import ProbeTrainer, check_checkpoint_fits

PARSER_MODE = "latent_probe_yaml"
DEFAULT_RUNS_DIR = "runs"
DEFAULT_LOGGER = {
    "class_path": "pytorch_lightning.loggers.TensorBoardLogger",
    # name None is filled in with the experiment name (the config file's stem unless `experiment:` is set)
    "init_args": {"save_dir": DEFAULT_RUNS_DIR, "name": None},
}
# Lightning's own configuration errors are the user's too: report them the same way.
USER_ERRORS = (LatentProbeError, MisconfigurationException)
CHECKPOINT_SPECIAL_PATHS = {"last", "best", "hpc", "registry"}

set_loader(PARSER_MODE, yaml_loader_resolving_names)


class LatentProbeParser(LightningArgumentParser):
    """LightningCLI's parser, ending a bad command line with one clear line instead of usage text."""

    def error(self, message: str, ex: Exception | None = None):
        """Raise a ``ConfigError`` with the condensed message (exit status 2 in ``main``)."""
        if not self.exit_on_error:
            return super().error(message, ex)
        raise ConfigError(condense_parser_error(message)) from None


class LatentProbeCLI(LightningCLI):
    """LightningCLI with registered short names, a top-level ``probes:`` list and a ``probe`` subcommand."""

    def __init__(self, args: list[str] | None = None, run: bool = True) -> None:
        super().__init__(
            model_class=pl.LightningModule,
            datamodule_class=pl.LightningDataModule,
            subclass_mode_model=True,
            subclass_mode_data=True,
            trainer_class=ProbeTrainer,
            parser_class=LatentProbeParser,
            # allow_abbrev off: argparse would otherwise take `--trainer.max_epoch` as `max_epochs`.
            parser_kwargs={"parser_mode": PARSER_MODE, "allow_abbrev": False},
            trainer_defaults={"logger": DEFAULT_LOGGER},
            seed_everything_default=0,
            # A resumed run (`--ckpt_path last`) logs into its own folder again: its config.yaml is rewritten.
            save_config_kwargs={"overwrite": True},
            args=args,
            run=run,
        )

    @staticmethod
    def subcommands() -> dict[str, set[str]]:
        """Lightning's subcommands plus ``probe``."""
        return {**LightningCLI.subcommands(), "probe": {"model", "datamodule"}}

    def add_arguments_to_parser(self, parser: LightningArgumentParser) -> None:
        """Add ``experiment`` (the run's name) and ``probes`` (a list of probe callbacks)."""
        parser.add_argument("--experiment", type=str | None, default=None, help="Run name under runs/ (default: the config file's stem).")
        parser.add_argument("--probes", type=list[Probe], default=[], help="Probes to attach (registered names or class paths).")

    def parse_arguments(self, parser: LightningArgumentParser, args: Any) -> None:
        """Parse ``args`` (always given by ``main``, so LightningCLI's sys.argv warning does not apply)."""
        self.config = parser.parse_args(args)

    def _parse_ckpt_path(self) -> None:
        config = self.config.get(str(self.config.get("subcommand")), Namespace())
        ckpt_path = config.get("ckpt_path")
        if ckpt_path == "last" and self.config.get("subcommand") == "fit":
            resume_latest_run(config)
        elif ckpt_path and ckpt_path not in CHECKPOINT_SPECIAL_PATHS and not Path(ckpt_path).is_file():
            raise ConfigError(f"checkpoint file not found: {ckpt_path!r}")
        super()._parse_ckpt_path()

    def before_instantiate_classes(self) -> None:
        """Name the TensorBoard run after the experiment when the logger's name is left empty."""
        config = self.config[self.subcommand] if self.subcommand else self.config
        logger = config.trainer.get("logger")
        if isinstance(logger, Namespace) and logger.get("class_path", "").endswith("TensorBoardLogger"):
            if logger.init_args.get("name") is None:
                logger.init_args.name = experiment_name(config)

    def after_instantiate_classes(self) -> None:
        """Fail fast, before anything is written: probe layer names, and a checkpoint that does not fit the model."""
        if self.subcommand is None:
            return
        for probe in self._get(self.config_init, "probes", default=[]) or []:
            probe.resolve(self.model)
        ckpt_path = self.config[self.subcommand].get("ckpt_path")
        if ckpt_path and ckpt_path not in CHECKPOINT_SPECIAL_PATHS:
            check_checkpoint_fits(self.model, ckpt_path)

    def after_fit(self) -> None:
        """Write the run's HTML report and say where the run, its report and TensorBoard are."""
        log_dir = self.trainer.log_dir  # a collective under DDP: every rank asks
        if not self.trainer.is_global_zero or log_dir is None:
            return
        report = write_report(log_dir)
        save_dir = Path(log_dir).parent.parent
        print(f"\nRun:         {log_dir}\nReport:      {report}\nTensorBoard: tensorboard --logdir {save_dir}")

    def instantiate_trainer(self, **kwargs: Any) -> pl.Trainer:
        """Build the trainer with the default callbacks (unless configured otherwise) and the probes."""
        extra_callbacks = [self._get(self.config_init, c) for c in self._parser(self.subcommand).callback_keys]
        trainer_config = {**self._get(self.config_init, "trainer", default={}), **kwargs}
        configured = list(trainer_config.get("callbacks") or [])
        probes = list(self._get(self.config_init, "probes", default=[]) or [])
        defaults = [cb for cb in default_callbacks(trainer_config) if not any(isinstance(c, type(cb)) for c in configured)]
        try:
            return self._instantiate_trainer(trainer_config, extra_callbacks + defaults + probes)
        except (ValueError, TypeError) as error:  # Lightning validates trainer arguments with these
            raise ConfigError(f"trainer: {str(error).strip().splitlines()[0]}") from error


def resume_latest_run(config: Namespace) -> None:
    """``fit --ckpt_path last``: continue the newest run of this experiment, in its own folder."""
    logger = config.trainer.get("logger")
    if not (isinstance(logger, Namespace) and logger.get("class_path", "").endswith("TensorBoardLogger")):
        return  # another logger: keep Lightning's own meaning of "last"
    name = logger.init_args.get("name") or experiment_name(config)
    root = Path(logger.init_args.get("save_dir") or DEFAULT_RUNS_DIR) / name
    runs = sorted(root.glob("version_*/checkpoints/last.ckpt"), key=lambda p: int(p.parts[-3].split("_")[-1]))
    if not runs:
        raise ConfigError(f"--ckpt_path last: no checkpoints/last.ckpt under {str(root)!r} to resume. HINT: give a checkpoint file")
    config.ckpt_path = str(runs[-1])
    logger.init_args.name = name
    if logger.init_args.get("version") is None:
        logger.init_args.version = int(runs[-1].parts[-3].split("_")[-1])


def experiment_name(config: Namespace) -> str:
    """The configured ``experiment``, else the first config file's stem, else ``default``."""
    if config.get("experiment"):
        return config.experiment
    config_files = [c for c in (config.get("config") or []) if c is not None]
    return Path(str(config_files[0])).stem if config_files else "default"


def default_callbacks(trainer_config: dict[str, Any]) -> list[Callback]:
    """Rich progress bar and model summary, a checkpoint that always keeps ``last.ckpt``, and one on SIGTERM."""
    callbacks: list[Callback] = []
    if trainer_config.get("enable_progress_bar", True) is not False:
        callbacks.append(RichProgressBar())
    if trainer_config.get("enable_model_summary", True) is not False:
        callbacks.append(RichModelSummary())
    if trainer_config.get("enable_checkpointing", True) is not False:
        callbacks += [ModelCheckpoint(save_last=True), InterruptCheckpoint()]
    return callbacks


def find_disk_full(error: BaseException) -> OSError | None:
    """A full-disk or quota ``OSError`` that caused ``error``, if any (reported as one line, not a traceback)."""
    found = find_user_error(error, (OSError,))
    return found if isinstance(found, OSError) and found.errno in (errno.ENOSPC, errno.EDQUOT) else None


def report_argument(args: list[str]) -> str:
    """The RUN_DIR of ``latent-probe report RUN_DIR``."""
    if len(args) != 1 or args[0].startswith("-"):
        raise ConfigError(f"usage: latent-probe report RUN_DIR (one run folder, e.g. runs/quickstart/version_0); got {args}")
    return args[0]


def main(args: list[str] | None = None) -> None:
    """Entry point of the ``latent-probe`` command; bad input ends with one line on stderr and exit 2."""
    argv = list(sys.argv[1:] if args is None else args)
    try:
        load_plugins()
        if argv[:1] == ["list"]:
            print_registered(argv[1:])
            return
        if argv[:1] == ["report"]:
            print(write_report(report_argument(argv[1:])))
            return
        LatentProbeCLI(args=resolve_argv_names(argv))
    except SIGTERMException:
        print("latent-probe: stopped by SIGTERM; the state was saved to checkpoints/interrupted.ckpt", file=sys.stderr)
        raise SystemExit(128 + signal.SIGTERM) from None
    except Exception as error:
        user_error = find_user_error(error, USER_ERRORS) or find_disk_full(error)
        if user_error is None:
            raise
        message = str(user_error).strip().splitlines()[0]
        if isinstance(user_error, OSError):
            where = user_error.filename or "the run"
            message = f"disk full while writing {where}: {user_error.strerror}. HINT: free space or change the logger's save_dir"
        print(f"latent-probe: error: {message}", file=sys.stderr)
        raise SystemExit(2) from None


if __name__ == "__main__":
    main()
