"""The influence mapper and its helpers: batched single-pixel maps, integrated gradients, the input-layer shortcut, image files."""

from latent_probe.probes.influence.mapper import InfluenceMapper

__all__ = ["InfluenceMapper"]
