"""The command line of ``latent-probe layers``, checked before Lightning is imported (a missing config is one line, fast)."""

from __future__ import annotations

from latent_probe.cli.argv_order import command_line_wins
from latent_probe.cli.names import resolve_argv_names
from latent_probe.cli.option_keys import check_option_keys
from latent_probe.errors import ConfigError

USAGE = "usage: latent-probe layers --config X.yaml [--json] [options of fit, e.g. --model.depth 5]"
JSON_FLAG = "--json"


def layers_arguments(argv: list[str]) -> tuple[list[str], bool]:
    """The arguments for the CLI (config files checked, short names resolved) and whether ``--json`` was given."""
    if not any(arg.split("=", 1)[0] in ("--config", "-c", "--model") for arg in argv):
        raise ConfigError(f"{USAGE} (a config or --model is needed: there is nothing to list without one)")
    args = resolve_argv_names(command_line_wins([arg for arg in argv if arg != JSON_FLAG]))
    check_option_keys(args)
    return args, JSON_FLAG in argv
