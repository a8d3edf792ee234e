"""``latent-probe``: the entry point; every user error ends as one line ``latent-probe: error: ...``, exit 2.

Example:
    $ latent-probe fit --config configs/quickstart.yaml
    $ latent-probe fit --config configs/toy_moons.yaml --model.depth 5 --trainer.max_epochs 30
    $ latent-probe probe --config configs/quickstart.yaml --ckpt_path runs/quickstart/version_0/checkpoints/last.ckpt
    $ latent-probe compare --config configs/quickstart.yaml --ckpt_path runs/quickstart/version_0/checkpoints/last.ckpt \
          --reference runs/quickstart/version_1
    $ latent-probe list probes
    $ latent-probe layers --config configs/quickstart.yaml

Lightning (and torch) are imported only by the commands that build a model: ``--help``, ``--version``, ``list``,
``report`` and the errors found before a model is built (an unknown subcommand, a missing or malformed config file,
a key that Trainer or a built-in component does not accept) answer in a fraction of a second.
"""

from __future__ import annotations

import argparse
import errno
import os
import signal
import sys

from latent_probe import __version__
from latent_probe.cli import interrupt
from latent_probe.cli.argv_order import command_line_wins
from latent_probe.cli.compare_args import COMPARE_MOMENT, compare_argv
from latent_probe.cli.help import VERSION_FLAG, print_help, wants_help
from latent_probe.cli.layers_args import layers_arguments
from latent_probe.cli.listing import print_registered
from latent_probe.cli.names import STANDS_FOR, SUBCOMMANDS, resolve_argv_names
from latent_probe.cli.option_keys import check_option_keys
from latent_probe.cli.quiet import quiet_unless_verbose, split_verbose
from latent_probe.errors import ConfigError, LatentProbeError, find_user_error
from latent_probe.registry import load_plugins

# Lightning's own configuration errors are the user's too (``user_errors`` adds them once Lightning is imported).
LIGHTNING_USER_ERRORS = ("lightning_fabric.utilities.exceptions", "MisconfigurationException")


def user_errors() -> tuple[type[BaseException], ...]:
    """The exceptions reported as one line: the project's, and Lightning's ``MisconfigurationException`` once imported
    (no command that has not imported Lightning can raise it)."""
    module = sys.modules.get(LIGHTNING_USER_ERRORS[0])
    return (LatentProbeError,) + ((getattr(module, LIGHTNING_USER_ERRORS[1]),) if module is not None else ())


def check_subcommand(argv: list[str]) -> None:
    """Refuse an unknown subcommand with jsonargparse's own message, before Lightning is imported to parse the rest."""
    if not argv or argv[0].startswith("-") or argv[0] in SUBCOMMANDS or argv[0] in STANDS_FOR:
        return
    parser = argparse.ArgumentParser(prog="latent-probe", exit_on_error=False, add_help=False)
    commands = parser.add_subparsers(dest="subcommand")
    for name in (*SUBCOMMANDS, *STANDS_FOR):
        commands.add_parser(name, add_help=False)
    try:
        parser.parse_args(argv[:1])
    except argparse.ArgumentError as error:
        raise ConfigError(str(error)) from None


# File-system errors that are the user's to fix, with what to do about each.
FILESYSTEM_HINTS = {
    errno.ENOSPC: "free space or change the logger's save_dir",
    errno.EDQUOT: "free space or change the logger's save_dir",
    errno.EACCES: "check the permissions, or write elsewhere (--trainer.logger.init_args.save_dir)",
    errno.EPERM: "check the permissions, or write elsewhere (--trainer.logger.init_args.save_dir)",
    errno.EROFS: "the file system is read-only: write elsewhere (--trainer.logger.init_args.save_dir)",
    errno.ENAMETOOLONG: "use a shorter experiment name or path",
    errno.ENOTDIR: "a part of the path is a file, not a folder",
    errno.EISDIR: "the path is a folder, not a file",
}


def find_filesystem_error(error: BaseException) -> OSError | None:
    """A full disk, permission, read-only or bad-path ``OSError`` that caused ``error`` (reported as one line)."""
    found = find_user_error(error, (OSError,))
    return found if isinstance(found, OSError) and found.errno in FILESYSTEM_HINTS else None


def filesystem_message(error: OSError) -> str:
    """One line naming the path, what went wrong and what to do."""
    where = error.filename or "the run's files"
    doing = "disk full while writing" if error.errno in (errno.ENOSPC, errno.EDQUOT) else "cannot write or read"
    return f"{doing} {where}: {error.strerror}. HINT: {FILESYSTEM_HINTS[error.errno]}"


def refuse_unsafe_loading() -> None:
    """Refuse ``TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD``: it makes torch unpickle checkpoints, which runs code inside them."""
    value = os.environ.get("TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD", "").strip().lower()
    if value not in ("", "0", "false", "no", "off"):
        raise ConfigError("TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD is set: torch would unpickle checkpoints and run code in them; "
                          "latent-probe reads them with weights_only=True only. HINT: unset it")


def resume_hint() -> str:
    """Where an interrupted fit saved its state, and the option that continues it in the same run folder."""
    if not interrupt.saved:
        return ("no training was under way, so nothing needed saving: run the same command again (add --ckpt_path last "
                "to continue a run that has a checkpoint)")
    return f"the state was saved to {interrupt.saved[0]}; continue with the same command plus --ckpt_path last"


def report_argument(args: list[str]) -> str:
    """The RUN_DIR of ``latent-probe report RUN_DIR``."""
    if len(args) != 1 or args[0].startswith("-"):
        raise ConfigError(f"usage: latent-probe report RUN_DIR (one run folder, e.g. runs/quickstart/version_0); got {args}")
    return args[0]


def main(args: list[str] | None = None) -> None:
    """Entry point of the ``latent-probe`` command; bad input ends with one line on stderr and exit 2."""
    argv, verbose = split_verbose(list(sys.argv[1:] if args is None else args))
    if argv == [VERSION_FLAG]:
        print(f"latent-probe {__version__}")
        raise SystemExit(0)
    text = wants_help(argv)
    if text is not None:
        print_help(text)
        raise SystemExit(0 if argv else 2)
    interrupt.saved.clear()  # what an earlier command of this process saved is not this one's
    with interrupt.sigterm_stops_the_command(), quiet_unless_verbose(verbose):
        run_command(argv)


def run_command(argv: list[str]) -> None:
    """Run one command; every user error, interrupt and file-system problem ends in one line."""
    try:
        refuse_unsafe_loading()
        if argv[:1] == ["report"]:  # reads files only: no plugin is needed (nor torch, which a plugin may import)
            from latent_probe.artifacts.report import write_report

            print(write_report(report_argument(argv[1:])))
            return
        load_plugins()
        if argv[:1] == ["list"]:
            print_registered(argv[1:])
            return
        if argv[:1] == ["layers"]:
            args, as_json = layers_arguments(argv[1:])  # config files checked before Lightning is imported
            from latent_probe.cli.layers import print_layers

            print_layers(args, as_json)
            return
        moment: dict[str, str] = {}
        if argv[:1] == ["compare"]:  # `probe` with one ModelSimilarity probe, its moment named compare
            argv, moment = compare_argv(argv[1:]), {"posthoc_name": COMPARE_MOMENT}
        args = resolve_argv_names(command_line_wins(argv))  # config files checked here, before Lightning is imported
        check_subcommand(args)
        check_option_keys(args)
        from latent_probe.cli.lightning_cli import LatentProbeCLI

        LatentProbeCLI(args=args, **moment)
    except (KeyboardInterrupt, SystemExit) as stop:
        if interrupt.is_sigterm(stop):
            print(f"latent-probe: stopped by SIGTERM; {resume_hint()}", file=sys.stderr)
            raise SystemExit(128 + signal.SIGTERM) from None
        # Lightning answers Ctrl-C by saving (our InterruptCheckpoint) and calling exit(1): say so in one line.
        if isinstance(stop, SystemExit) and not interrupt.saved:
            raise
        print(f"latent-probe: stopped by Ctrl-C; {resume_hint()}", file=sys.stderr)
        raise SystemExit(128 + signal.SIGINT) from None
    except Exception as error:
        user_error = find_user_error(error, user_errors()) or find_filesystem_error(error)
        if user_error is None:
            raise
        message = str(user_error).strip().splitlines()[0]
        if isinstance(user_error, OSError):
            message = filesystem_message(user_error)
        # A value may hold characters the terminal cannot take (lone surrogates): escape them rather than crash.
        print(f"latent-probe: error: {message}".encode("utf-8", "backslashreplace").decode("utf-8"), file=sys.stderr)
        raise SystemExit(2) from None


if __name__ == "__main__":
    main()
