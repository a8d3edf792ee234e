"""How a probe keeps a big layer small: token sequences ``(N, T, D)`` and feature maps ``(N, C, H, W)`` pooled per sample.

The rule, the same for every probe that stores activations (its ``token_pooling`` and ``max_features`` options):

- ``(N, D)`` is kept; ``(N,)`` becomes ``(N, 1)``;
- ``(N, T, D)`` (a transformer's tokens): ``mean`` over tokens (default), the ``first`` token (CLS), or ``flatten``;
  with a padding mask ``(N, T)`` of the data (``attention_mask``) ``mean`` averages only the real tokens, exactly;
  ``first`` is unaffected and ``flatten`` keeps every token, padding included;
- ``(N, C, H, W)`` with more than ``max_features`` values per sample: average-pooled over space to ``C x s x s``,
  the largest square grid that fits (at least ``C x 1 x 1``), as is usual for conv layers; ``max_features: null`` keeps all;
- anything else is flattened.

Pooling happens in the forward hook, batch by batch, so the full maps are never held for the whole sample.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch.nn import functional as F

from latent_probe.errors import check_range, require_choice

TOKEN_POOLINGS = ("mean", "first", "flatten")


@dataclass(frozen=True)
class Pooling:
    """The reduction of one probe: ``token_pooling`` for ``(N, T, D)`` and ``max_features`` for ``(N, C, H, W)``."""

    token_pooling: str = "mean"
    max_features: int | None = 1024

    def __post_init__(self) -> None:
        require_choice("token_pooling", self.token_pooling, TOKEN_POOLINGS)
        if self.max_features is not None:
            check_range("max_features", self.max_features, minimum=1)

    def __call__(self, output: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """``(N, features)`` of a layer output ``(N, ...)``; ``mask`` ``(N, T)`` marks the real tokens of ``(N, T, D)``."""
        if output.dim() == 3 and self.token_pooling == "mean" and mask is not None and tuple(mask.shape) == tuple(output.shape[:2]):
            return masked_mean(output, mask)
        if output.dim() == 3 and self.token_pooling != "flatten":
            return output.mean(dim=1) if self.token_pooling == "mean" else output[:, 0]
        if output.dim() == 4 and self.max_features is not None and output[0].numel() > self.max_features:
            side = self._side(output.shape[1])
            return F.adaptive_avg_pool2d(output, (min(side, output.shape[2]), min(side, output.shape[3]))).flatten(1)
        return output.reshape(len(output), -1)

    def width(self, shape: tuple[int, ...]) -> int:
        """Features stored per sample of a layer whose one-sample output has ``shape`` (a streaming probe's state size)."""
        return int(self(torch.zeros(1, *shape)).shape[1])

    def _side(self, channels: int) -> int:
        return max(1, math.isqrt(max(1, self.max_features // channels)))

    def describe(self, shape: tuple[int, ...], mask_key: str | None = None) -> str:
        """What the rule does to one sample of ``shape`` (without the batch dimension), for the manifest.

        ``mask_key`` names the data's padding mask: token means then leave the padding out."""
        if len(shape) == 2 and self.token_pooling == "mean" and mask_key:
            return f"mean over the unpadded tokens ({mask_key}; {shape[0]} tokens in the setup batch) -> {shape[1]}"
        if len(shape) == 2 and self.token_pooling != "flatten":
            how = "mean over all" if self.token_pooling == "mean" else "first of"
            return f"{how} {shape[0]} tokens -> {shape[1]}"
        if len(shape) == 2 and mask_key:
            return f"flattened to {math.prod(shape)} (all {shape[0]} tokens, padding included)"
        if len(shape) == 3 and self.max_features is not None and math.prod(shape) > self.max_features:
            channels, side = shape[0], self._side(shape[0])
            pooled = (channels, min(side, shape[1]), min(side, shape[2]))
            return f"average-pooled {'x'.join(map(str, shape))} -> {'x'.join(map(str, pooled))} = {math.prod(pooled)}"
        return f"flattened to {math.prod(shape)}" if len(shape) > 1 else "as is"


def masked_mean(output: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """``(N, D)`` means of ``(N, T, D)`` over the tokens where ``mask`` ``(N, T)`` is non-zero (a row without any: zeros)."""
    weights = (mask != 0).to(output.dtype).to(output.device).unsqueeze(-1)
    return (output * weights).sum(dim=1) / weights.sum(dim=1).clamp_min(1)
