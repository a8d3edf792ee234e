"""Where a run lives: the experiment's name, the run folder to resume, and the callbacks every run gets."""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path
from typing import Any

from jsonargparse import Namespace
from pytorch_lightning.callbacks import Callback, ModelCheckpoint, RichModelSummary, RichProgressBar

from latent_probe.artifacts.run_files import DIRECTORY, FILE, MISSING, checked_run_path, inside_run, run_entry_kind
from latent_probe.cli.atomic_checkpoints import remove_stray_temp_files
from latent_probe.cli.display import RunModelSummary, RunProgressBar
from latent_probe.cli.interrupt_checkpoint import InterruptCheckpoint
from latent_probe.cli.run_checkpoint import RunCheckpoint
from latent_probe.errors import ConfigError

DEFAULT_RUNS_DIR = "runs"


def resume_latest_run(config: Namespace) -> None:
    """``fit --ckpt_path last``: continue the newest run of this experiment, in its own folder."""
    logger = config.trainer.get("logger")
    if not (isinstance(logger, Namespace) and logger.get("class_path", "").endswith("TensorBoardLogger")):
        return  # another logger: keep Lightning's own meaning of "last"
    name = logger.init_args.get("name") or experiment_name(config)
    root = Path(logger.init_args.get("save_dir") or DEFAULT_RUNS_DIR) / name
    versions = sorted((int(p.name[len("version_"):]), p) for p in root.glob("version_*") if p.name[len("version_"):].isdigit())
    if not versions:
        raise ConfigError(f"--ckpt_path last: no run under {str(root)!r} to resume. HINT: train first, or give a checkpoint file")
    number, newest = versions[-1]
    # Only the newest run is resumed: if it died before its first checkpoint, an older (maybe finished) run must not
    # be continued and overwritten in its place.
    checked_run_path(root, newest, DIRECTORY)
    saved = [path for path in (newest / "checkpoints" / file for file in ("interrupted.ckpt", "last.ckpt"))
             if checked_checkpoint(newest, path)]
    if not saved:
        raise ConfigError(f"--ckpt_path last: the newest run {str(newest)!r} has no checkpoint (it stopped before its first epoch "
                          "ended). HINT: start it again without --ckpt_path, or give a checkpoint file")
    config.ckpt_path = str(max(saved, key=lambda path: path.stat().st_mtime))  # the later of a SIGTERM save and last.ckpt
    remove_stray_temp_files(checked_run_path(newest, newest / "checkpoints", DIRECTORY))
    logger.init_args.name = name
    if logger.init_args.get("version") is None:
        logger.init_args.version = number


def use_latest_checkpoint(config: Namespace) -> None:
    """``test``/``validate``/``predict``/``probe --ckpt_path last``: the newest run's last.ckpt; none is an error."""
    logger = config.trainer.get("logger")
    name = (logger.init_args.get("name") if isinstance(logger, Namespace) else None) or experiment_name(config)
    save_dir = (logger.init_args.get("save_dir") if isinstance(logger, Namespace) else None) or DEFAULT_RUNS_DIR
    root = Path(save_dir, name)
    found = sorted(root.glob("version_*/checkpoints/last.ckpt"), key=lambda p: int(p.parts[-3].split("_")[-1])
                   if p.parts[-3].split("_")[-1].isdigit() else -1)
    found = [path for path in found if checked_checkpoint(root, path)]
    if not found:
        raise ConfigError(f"--ckpt_path last: no checkpoints/last.ckpt under {str(Path(save_dir, name))!r}, so there is no trained "
                          "model to use. HINT: train first, or give a checkpoint file")
    config.ckpt_path = str(found[-1])


def checked_checkpoint(run: Path, path: Path) -> bool:
    """Whether the run holds a checkpoint at ``path`` (a regular file inside it); any other thing there is an error.

    A run folder may come from someone else: a ``last.ckpt`` linked to a file outside it, a FIFO or a device is
    refused by name rather than opened.
    """
    kind = run_entry_kind(run, path)
    if kind not in (FILE, MISSING):
        raise ConfigError(f"--ckpt_path last: {str(path)!r} {kind}. HINT: give a checkpoint file explicitly")
    return kind == FILE


def check_run_stays_inside(folder: str | Path, limit: int = 100_000) -> None:
    """Refuse to write into an existing run folder holding a symlink that leads outside it (writes would follow it)."""
    if "://" in str(folder) or not Path(folder).is_dir():
        return
    seen = 0
    for parent, folders, files in os.walk(folder):  # symlinked folders are listed, never entered
        for name in folders + files:
            path = Path(parent, name)
            if path.is_symlink() and not inside_run(folder, path):
                raise ConfigError(f"run folder {str(folder)!r} holds {str(path)!r}, a symlink leading outside it: nothing is "
                                  "written into such a run. HINT: remove the link, or probe into a new run folder")
            seen += 1
        if seen > limit:
            raise ConfigError(f"run folder {str(folder)!r} holds more than {limit:,} entries; is it a run folder?")


def log_into_checkpoint_run(config: Namespace) -> None:
    """``probe`` or ``fit --ckpt_path RUN/checkpoints/X.ckpt``: write into that run's folder (``runs/<exp>/version_<n>``)."""
    logger, ckpt_path = config.trainer.get("logger"), config.get("ckpt_path")
    if not ckpt_path or not (isinstance(logger, Namespace) and logger.get("class_path", "").endswith("TensorBoardLogger")):
        return
    run = run_spelling(Path(ckpt_path).resolve().parent.parent)  # the user's own symlinks lead to the run they name
    if Path(ckpt_path).resolve().parent.name != "checkpoints" or not run.name.startswith("version_"):
        return  # a checkpoint from elsewhere: the probes get a run folder of their own
    version = run.name[len("version_"):]
    if version.isdigit():
        logger.init_args.save_dir, logger.init_args.name, logger.init_args.version = str(run.parent.parent), run.parent.name, int(version)


def run_spelling(folder: Path) -> Path:
    """``folder`` relative to the working folder when inside it (as a run started here spells it), else absolute."""
    try:
        return folder.relative_to(Path.cwd().resolve())
    except ValueError:
        return folder


def default_kind(callback: Callback) -> type[Callback]:
    """The Lightning class a default callback stands for: a configured one of that class replaces it."""
    for kind in (ModelCheckpoint, RichProgressBar, RichModelSummary):
        if isinstance(callback, kind):
            return kind
    return type(callback)


def check_writable(folder: str | Path) -> None:
    """Raise the ``OSError`` (naming the folder) if nothing can be created in ``folder`` or its nearest existing parent.

    Checked before training or probing starts: found later, the error would come from TensorBoard's writer thread as a
    traceback, after the run had begun.
    """
    if "://" in str(folder):
        return  # remote storage: its own client reports its errors
    existing = Path(folder).absolute()
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    try:
        with tempfile.TemporaryFile(dir=existing):
            pass
    except OSError as error:
        raise type(error)(error.errno, error.strerror, str(folder)) from None


def experiment_name(config: Namespace) -> str:
    """The configured ``experiment``, else the first config file's stem, else ``default``."""
    if config.get("experiment"):
        return plain_folder_name(config.experiment, "experiment")
    config_files = [c for c in (config.get("config") or []) if c is not None]
    return Path(str(config_files[0])).stem if config_files else "default"


def plain_folder_name(name: str, what: str) -> str:
    """``name`` if it is one plain folder name (so it cannot place files outside ``runs/``); else a ``ConfigError``."""
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.=+-]{0,127}", name) or ".." in name:
        raise ConfigError(f"{what} {name!r} must be one folder name of letters, digits and _.=+- (at most 128, no '..', "
                          "no '/'). HINT: e.g. --experiment resnet_mnist")
    return name


def default_callbacks(trainer_config: dict[str, Any]) -> list[Callback]:
    """Rich progress bar and model summary (cli/display.py), a checkpoint that always keeps ``last.ckpt``, and one on SIGTERM."""
    callbacks: list[Callback] = []
    if trainer_config.get("enable_progress_bar", True) is not False:
        callbacks.append(RunProgressBar())
    if trainer_config.get("enable_model_summary", True) is not False:
        callbacks.append(RunModelSummary())
    if trainer_config.get("enable_checkpointing", True) is not False:
        callbacks += [RunCheckpoint(save_last=True), InterruptCheckpoint()]
    return callbacks
