"""When probes fire: the names of the moments, which are also the artifact folders under ``probes/<probe>/``."""

from __future__ import annotations

from pathlib import Path

PROBE_MOMENT = "probe"  # `latent-probe probe` runs
NAMED_MOMENTS = ("fit_end", "test_end", "validate_end")  # model phases such as `pretrain_end` come on top


def posthoc_moment(log_dir: str | Path, probe_names: list[str]) -> str:
    """The moment of a post-hoc ``latent-probe probe`` run: ``probe``, or ``probe-2``, ``probe-3``, ... when a
    run's folder already holds earlier ones (for any of these probes), so nothing earlier is overwritten."""
    taken = {path.name for name in probe_names for path in (Path(log_dir) / "probes" / name).glob(f"{PROBE_MOMENT}*")}
    count = 1
    while (PROBE_MOMENT if count == 1 else f"{PROBE_MOMENT}-{count}") in taken:
        count += 1
    return PROBE_MOMENT if count == 1 else f"{PROBE_MOMENT}-{count}"


def epoch_moment(epoch: int) -> str:
    """The moment of the end of training epoch ``epoch`` (0-based): ``epoch=0004``."""
    return f"epoch={epoch:04d}"
