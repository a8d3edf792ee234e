"""When probes fire: the names of the moments, which are also the artifact folders under ``probes/<probe>/``."""

from __future__ import annotations

PROBE_MOMENT = "probe"  # `latent-probe probe` runs
NAMED_MOMENTS = ("fit_end", "test_end", "validate_end")  # model phases such as `pretrain_end` come on top


def epoch_moment(epoch: int) -> str:
    """The moment of the end of training epoch ``epoch`` (0-based): ``epoch=0004``."""
    return f"epoch={epoch:04d}"
