"""Quiet by default: a command prints what a researcher wants (the model summary, the progress bar with its metrics,
the probes' summary lines, where the run, its report and TensorBoard are) and our own warnings, which are actionable.

Dropped, at the command's entry point only (``latent_probe.cli.main.main``, never on import of the library), each by
its logger and message or by its category, message and module:

- Lightning's advertisements (``💡 Tip: ... litlogger`` / ``litmodels``);
- its hardware inventory (``GPU available: ...``, ``TPU available: ...``, ``LOCAL_RANK: 0 - CUDA_VISIBLE_DEVICES``);
- its chatter (``Trainer already configured with model summary callbacks ... Skipping ...``, ``Seed set to 0``,
  ``Trainer.fit stopped: max_epochs=N reached``);
- deprecation warnings raised inside Lightning or torch that no config can avoid (``LeafSpec``).

``latent-probe --verbose SUBCOMMAND ...`` (a global flag, before the subcommand) or ``LATENT_PROBE_VERBOSE=1`` shows
everything, as Lightning prints it.
"""

from __future__ import annotations

import logging
import os
import re
import warnings
from collections.abc import Iterator
from contextlib import contextmanager

VERBOSE_FLAG = "--verbose"
VERBOSE_ENV = "LATENT_PROBE_VERBOSE"

# Where ``rank_zero_info`` logs (the last of the two Lightning packages to import names it): both are filtered.
RANK_ZERO_LOGGERS = ("pytorch_lightning.utilities.rank_zero", "lightning_fabric.utilities.rank_zero")
RANK_PREFIX = r"(\[rank: \d+\] )?"
# logger -> the info lines (regular expressions matched at the message's start) that tell a researcher nothing.
DROPPED_INFO: dict[str, tuple[str, ...]] = {
    **{name: (
        r"💡 Tip: For seamless cloud (logging|uploads)",  # advertisements for litlogger / litmodels
        r"Trainer already configured with model summary callbacks: .*Skipping setting a default `ModelSummary`",
        r"GPU available: ",
        r"TPU available: ",
        r"HPU available: ",
        r"`Trainer\.fit` stopped: `max_(epochs|steps)=\S+` reached\.",  # the run ends as configured
    ) for name in RANK_ZERO_LOGGERS},
    "lightning_fabric.utilities.seed": (RANK_PREFIX + r"Seed set to ",),
    "pytorch_lightning.accelerators.cuda": (r"LOCAL_RANK: \d+ - CUDA_VISIBLE_DEVICES: ",),
}
# (message, category, module) of warnings raised inside third-party code that the user cannot act on.
DROPPED_WARNINGS: tuple[tuple[str, type[Warning], str], ...] = (
    # torch deprecated `LeafSpec`; Lightning 2.6's own _pytree.py still uses it.
    (r"`isinstance\(treespec, LeafSpec\)` is deprecated", FutureWarning, r"pytorch_lightning\.utilities\._pytree"),
)

_verbose = [False]  # set by ``quiet_unless_verbose`` for the length of one command


def split_verbose(argv: list[str]) -> tuple[list[str], bool]:
    """``argv`` without the leading ``--verbose`` flags, and whether there were any."""
    rest = list(argv)
    given = False
    while rest[:1] == [VERBOSE_FLAG]:
        rest, given = rest[1:], True
    return rest, given


def is_verbose() -> bool:
    """Whether everything is shown: ``--verbose`` given to the running command, or ``LATENT_PROBE_VERBOSE`` set."""
    return _verbose[0] or os.environ.get(VERBOSE_ENV, "").strip().lower() not in ("", "0", "false", "no", "off")


class DropLines(logging.Filter):
    """Drops the records whose message starts with one of ``patterns``."""

    def __init__(self, patterns: tuple[str, ...]) -> None:
        super().__init__()
        self.pattern = re.compile("|".join(f"(?:{p})" for p in patterns), re.DOTALL)

    def filter(self, record: logging.LogRecord) -> bool:
        """False (dropped) for a record this filter knows."""
        return self.pattern.match(record.getMessage()) is None


@contextmanager
def quiet_unless_verbose(verbose: bool = False) -> Iterator[None]:
    """For one command: drop the lines and warnings above unless ``verbose`` (or the environment) asks for everything."""
    _verbose[0], before = verbose, _verbose[0]
    try:
        if is_verbose():
            yield
            return
        filters = [(logging.getLogger(name), DropLines(patterns)) for name, patterns in DROPPED_INFO.items()]
        with warnings.catch_warnings():
            for message, category, module in DROPPED_WARNINGS:
                warnings.filterwarnings("ignore", message=message, category=category, module=module)
            for logger, dropped in filters:
                logger.addFilter(dropped)
            try:
                yield
            finally:
                for logger, dropped in filters:
                    logger.removeFilter(dropped)
    finally:
        _verbose[0] = before
