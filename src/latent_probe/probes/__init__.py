"""Registered probes; importing this package registers them."""

from latent_probe.probes.base import Probe
from latent_probe.probes.embedding import EmbeddingDumper
from latent_probe.probes.filters import FilterTiler  # noqa: F401
from latent_probe.probes.influence import InfluenceMapper  # noqa: F401
from latent_probe.probes.layer_transform import LayerTransformRecorder  # noqa: F401
from latent_probe.registry import register_probe

__all__ = ["EmbeddingDumper", "Probe", "register_probe"]
