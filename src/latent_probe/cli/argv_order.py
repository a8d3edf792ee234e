"""What is loaded never depends on argument order: the options that choose weights and runs win over config files.

jsonargparse applies the command line left to right, so ``probe --ckpt_path X --config RUN/config.yaml`` let a saved
``ckpt_path: null`` reset the flag: the probes ran on random weights, exit 0. The options below are moved after the
last config file, in the order given; every other key keeps jsonargparse's order, as LightningCLI users expect.
"""

from __future__ import annotations

# The project's own keys, and those that choose which weights are loaded or which run is written.
COMMAND_LINE_WINS = ("--ckpt_path", "--weights", "--weights_prefix", "--weights_strict", "--experiment", "--data_spec",
                     "--probes")
CONFIG_OPTIONS = ("--config", "-c")


def option_key(arg: str) -> str:
    """``--key`` of ``--key`` or ``--key=value``."""
    return arg.split("=", 1)[0]


def wins_over_configs(arg: str) -> bool:
    """Whether ``arg`` is one of ``COMMAND_LINE_WINS`` (or a key below one, such as ``--probes.0.layers``)."""
    key = option_key(arg)
    return any(key == name or key.startswith(name + ".") for name in COMMAND_LINE_WINS)


def split_options(argv: list[str]) -> list[list[str]]:
    """``argv`` as groups: an option with its separate value, or one other token."""
    groups, i = [], 0
    while i < len(argv):
        arg = argv[i]
        takes_value = arg.startswith("-") and "=" not in arg and i + 1 < len(argv) and not argv[i + 1].startswith("--")
        if takes_value and (wins_over_configs(arg) or option_key(arg) in CONFIG_OPTIONS):
            groups.append(argv[i:i + 2])
            i += 2
        else:
            groups.append([arg])
            i += 1
    return groups


def command_line_wins(argv: list[str]) -> list[str]:
    """``argv`` with ``COMMAND_LINE_WINS`` options moved after the last config file (relative order kept)."""
    groups = split_options(list(argv))
    configs = [n for n, group in enumerate(groups) if option_key(group[0]) in CONFIG_OPTIONS]
    if not configs:
        return list(argv)
    last_config = configs[-1]
    moved = [group for n, group in enumerate(groups) if n < last_config and wins_over_configs(group[0])]
    kept = [group for n, group in enumerate(groups) if not (n < last_config and wins_over_configs(group[0]))]
    tail = kept[:last_config + 1 - len(moved)]
    return [arg for group in [*tail, *moved, *kept[len(tail):]] for arg in group]
