"""``LatentProbeCLI``: LightningCLI with registered short names, top-level ``probes:``/``data_spec:``/``experiment:``,
a ``probe`` subcommand, and every probe checked by a setup forward pass before any run folder exists."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import pytorch_lightning as pl
import yaml
from jsonargparse import Namespace, set_loader
from lightning_fabric.plugins import CheckpointIO
from pytorch_lightning.cli import LightningArgumentParser, LightningCLI

from latent_probe.artifacts.report import write_report
from latent_probe.cli.atomic_checkpoints import AtomicCheckpointIO
from latent_probe.cli.checkpoints import check_checkpoint_fits, check_hpc_checkpoints, check_lightning_checkpoint
from latent_probe.cli.names import yaml_loader_resolving_names
from latent_probe.cli.parse_errors import condense_parser_error
from latent_probe.cli.recorded_hparams import warn_if_trained_otherwise
from latent_probe.cli.reference_weights import attach_references
from latent_probe.cli.run_config import SaveRunConfig
from latent_probe.cli.run_folder_guard import RunFolderGuard
from latent_probe.cli.runs import (
    DEFAULT_RUNS_DIR,
    check_run_stays_inside,
    check_writable,
    default_callbacks,
    default_kind,
    experiment_name,
    log_into_checkpoint_run,
    resume_latest_run,
    use_latest_checkpoint,
)
from latent_probe.cli.trainer import ProbeTrainer
from latent_probe.dataspec import DataSpecOverrides, build_data_spec
from latent_probe.errors import ConfigError
from latent_probe.models.weights import load_weights
from latent_probe.probing import PROBE_MOMENT, Probe, ProbeRunner
from latent_probe.probing.setup import check_unique_names
from latent_probe.registry import import_builtins

PARSER_MODE = "latent_probe_yaml"
DEFAULT_LOGGER = {
    "class_path": "pytorch_lightning.loggers.TensorBoardLogger",
    # name None is filled in with the experiment name (the config file's stem unless `experiment:` is set)
    "init_args": {"save_dir": DEFAULT_RUNS_DIR, "name": None},
}
CHECKPOINT_SPECIAL_PATHS = {"last", "best", "hpc", "registry"}

set_loader(PARSER_MODE, yaml_loader_resolving_names, exceptions=(yaml.YAMLError,))  # bad YAML: the value stays a string
import_builtins()  # jsonargparse finds a short class name (`--model.help DeepMLP`) among the classes imported


class LatentProbeParser(LightningArgumentParser):
    """LightningCLI's parser, ending a bad command line with one clear line instead of usage text."""

    def error(self, message: str, ex: Exception | None = None):
        """Raise a ``ConfigError`` with the condensed message (exit status 2 in ``main``)."""
        if not self.exit_on_error:
            return super().error(message, ex)
        raise ConfigError(condense_parser_error(message)) from None


class LatentProbeCLI(LightningCLI):
    """LightningCLI with registered short names, a top-level ``probes:`` list and a ``probe`` subcommand."""

    def __init__(self, args: list[str] | None = None, run: bool = True, posthoc_name: str = PROBE_MOMENT) -> None:
        self.posthoc_name = posthoc_name  # what a post-hoc run's moment is called (`compare` for latent-probe compare)
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
            # No ckpt_path in a saved config; a post-hoc run's config is kept per moment (its config.yaml stays the
            # one that trained the model).
            save_config_callback=SaveRunConfig,
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
        parser.add_argument("--weights", type=str | None, default=None,
                            help="Weights for the model before anything runs: a state_dict .pt/.pth/.bin (weights_only), "
                                 ".safetensors or .npz; a backbone's own file loads into Classifier (the key prefix is found).")
        parser.add_argument("--weights_prefix", type=str | None, default=None,
                            help="Rename the file's keys: 'from=to' replaces a leading 'from' by 'to'; a plain 'to' is added.")
        parser.add_argument("--weights_strict", type=bool, default=True,
                            help="Every key must fit (default); false loads the keys that fit and reports the others.")
        parser.add_argument("--data_spec", type=DataSpecOverrides | None, default=None,
                            help="How probes read the data, where inference is not enough: input_key, label_key, image_shape, "
                                 "class_names, mean, std.")

    def parse_arguments(self, parser: LightningArgumentParser, args: Any) -> None:
        """Parse ``args`` (always given by ``main``, so LightningCLI's sys.argv warning does not apply)."""
        self.config = parser.parse_args(args)
        subcommand = self.config.get("subcommand")
        seed = (self.config.get(subcommand) if subcommand else self.config).get("seed_everything")
        if isinstance(seed, int) and not isinstance(seed, bool) and not 0 <= seed <= 2**32 - 1:
            raise ConfigError(f"seed_everything must be in [0, {2**32 - 1}] (or true for a random seed), got {seed}")

    def _parse_ckpt_path(self) -> None:
        """Resolve ``--ckpt_path last`` and read every checkpoint safely, before Lightning opens any of them; its recorded
        hyperparameters are compared with the config, never merged into it (a checkpoint is data)."""
        subcommand = self.config.get("subcommand")
        config = self.config.get(str(subcommand), Namespace())
        ckpt_path = config.get("ckpt_path")
        if ckpt_path == "last" and subcommand == "fit":
            resume_latest_run(config)
        elif ckpt_path == "last":
            use_latest_checkpoint(config)
        elif ckpt_path in CHECKPOINT_SPECIAL_PATHS:
            raise ConfigError(f"--ckpt_path {ckpt_path} is not supported here. HINT: give a checkpoint file, or `last`")
        self.checkpoint = None  # read once here, checked against the model after instantiation
        if config.get("ckpt_path"):
            self.checkpoint = check_lightning_checkpoint(config.ckpt_path, resuming=subcommand == "fit")
        if subcommand == "fit":
            check_hpc_checkpoints(config.trainer.get("default_root_dir") or ".")  # Lightning restores these by itself
        if self.checkpoint is not None:
            warn_if_trained_otherwise(config.ckpt_path, self.checkpoint, config.get("model"))
        # LightningCLI's own `_parse_ckpt_path` is deliberately not called: it merges the checkpoint's
        # `hyper_parameters` into the config, and jsonargparse would import and call the class paths they name.
        # tests/cli/test_checkpoint_is_data.py pins this for every command that takes a checkpoint.

    def before_instantiate_classes(self) -> None:
        """Name the TensorBoard run after the experiment when the logger's name is left empty."""
        config = self.config[self.subcommand] if self.subcommand else self.config
        logger = config.trainer.get("logger")
        if isinstance(logger, Namespace) and logger.get("class_path", "").endswith("TensorBoardLogger"):
            if logger.init_args.get("name") is None:
                logger.init_args.name = experiment_name(config)
        if self.subcommand in ("probe", "fit"):
            log_into_checkpoint_run(config)  # a checkpoint from a run's folder: continue or probe in that folder

    def after_instantiate_classes(self) -> None:
        """Fail fast, before anything is written: every probe's layers and needs (one setup forward pass), and a
        checkpoint that does not fit the model."""
        if self.subcommand is None:
            return
        weights = self._get(self.config_init, "weights")
        if weights:
            skipped = load_weights(self.model, weights, self._get(self.config_init, "weights_prefix"),
                                   self._get(self.config_init, "weights_strict", default=True))
            left_out = {key: value for key, value in skipped.items() if value}
            if left_out:
                warnings.warn(f"weights {weights!r}: loaded what fits; left out {left_out}", stacklevel=2)
        runner = self.trainer.probe_runner if isinstance(self.trainer, ProbeTrainer) else None
        if runner is not None:  # a comparison's reference read and checked now, before the setup pass and any run folder
            attach_references(runner.probes, self.model)
        trains_on_spec = callable(getattr(self.model, "use_data_spec", None))
        if runner is not None or trains_on_spec:  # one spec, one batch rule: what the model trains on is what probes read
            spec = build_data_spec(datamodule=self.datamodule, overrides=self._get(self.config_init, "data_spec"))
            if trains_on_spec:
                self.model.use_data_spec(spec)
            if runner is not None:
                runner.prepare(self.model, spec)
        ckpt_path = self.config[self.subcommand].get("ckpt_path")
        if ckpt_path and ckpt_path not in CHECKPOINT_SPECIAL_PATHS:
            check_checkpoint_fits(self.model, ckpt_path, self.checkpoint)
        log_dir = self.trainer.logger.log_dir if self.trainer.logger else self.trainer.default_root_dir
        check_writable(log_dir)
        check_run_stays_inside(log_dir)
        if self.trainer.logger:  # a folder the logger makes anew is removed again if the command fails with nothing in it
            self.trainer.callbacks.append(RunFolderGuard(log_dir))

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
        check_unique_names(probes)  # before Lightning's own refusal of two callbacks with one state key (a traceback)
        defaults = [cb for cb in default_callbacks(trainer_config) if not any(isinstance(c, default_kind(cb)) for c in configured)]
        plugins = trainer_config.get("plugins")
        plugins = list(plugins) if isinstance(plugins, (list, tuple)) else [plugins] if plugins is not None else []
        if not any(isinstance(p, CheckpointIO) for p in plugins):
            trainer_config["plugins"] = [*plugins, AtomicCheckpointIO()]
        if probes:  # the runner first: at an epoch's end the probes have fired before any other callback acts on the epoch
            trainer_config["callbacks"] = [ProbeRunner(probes), *configured]
        try:
            trainer = self._instantiate_trainer(trainer_config, extra_callbacks + defaults)
        except (ValueError, TypeError) as error:  # Lightning validates trainer arguments with these
            raise ConfigError(f"trainer: {str(error).strip().splitlines()[0]}") from error
        if isinstance(trainer, ProbeTrainer):
            trainer.posthoc_name = self.posthoc_name
        return trainer


