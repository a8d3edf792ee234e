"""When probes fire: the names of the moments, which are also the artifact folders under ``probes/<probe>/``."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from latent_probe.artifacts.layout import probes_dir
from latent_probe.errors import ConfigError, UnknownNameError

PROBE_MOMENT = "probe"  # `latent-probe probe` runs (`latent-probe compare` names its own: cli/compare_args.py)
NAMED_MOMENTS = ("fit_end", "test_end", "validate_end")  # model phases such as `pretrain_end` come on top
PHASES_ATTRIBUTE = "phases"  # a model lists the phase events it announces (latent_probe.models.phases) in this attribute


def model_phases(model: Any) -> tuple[str, ...]:
    """The phases ``model`` declares in its ``phases`` attribute (a class attribute or a property); none if it has none."""
    phases = getattr(model, PHASES_ATTRIBUTE, None)
    if isinstance(phases, str) or not isinstance(phases, (list, tuple)):  # e.g. a submodule that happens to be called so
        return ()
    return tuple(phase for phase in phases if isinstance(phase, str))


def check_moment_names(moments: Any) -> list[str]:
    """``moments`` as a list of names: a list of strings (a plain string would be read letter by letter)."""
    if isinstance(moments, str) or not isinstance(moments, Sequence) or not all(isinstance(m, str) for m in moments):
        raise ConfigError(f"moments must be a list of moment names, e.g. [fit_end], got {moments!r}")
    return list(moments)


def check_moments(moments: Sequence[str], phases: Sequence[str], model: str) -> None:
    """Raise for a moment that never comes: neither a named moment nor one of the phases the model declares."""
    known = [*NAMED_MOMENTS, *phases]
    for moment in moments:
        if moment not in known:
            hint = "" if phases else (f"{model} declares no phases; a model that announces phase events (such as "
                                      f"pretrain_end) lists them in its `{PHASES_ATTRIBUTE}` attribute")
            if moment.startswith("epoch"):
                hint = "to fire after every n-th epoch, set every_n_epochs"
            raise UnknownNameError("moment", moment, known, hint)


def posthoc_moment(log_dir: str | Path, base: str = PROBE_MOMENT) -> str:
    """The moment of a post-hoc run (``base``: ``probe`` for ``latent-probe probe``, ``compare`` for ``compare``): ``base``,
    or ``base-2``, ``base-3``, ... when the run's folder already holds earlier ones, of any probe (a moment is a point
    in the run's history, and it names the config saved beside it: ``probe_config.yaml``), so nothing is overwritten."""
    log_dir = Path(log_dir)
    taken = {path.name for path in probes_dir(log_dir).glob(f"*/{base}*")}
    taken |= {path.name.removesuffix("_config.yaml") for path in log_dir.glob(f"{base}*_config.yaml")}
    count = 1
    while (base if count == 1 else f"{base}-{count}") in taken:
        count += 1
    return base if count == 1 else f"{base}-{count}"


def epoch_moment(epoch: int) -> str:
    """The moment of the end of training epoch ``epoch`` (0-based): ``epoch=0004``."""
    return f"epoch={epoch:04d}"
