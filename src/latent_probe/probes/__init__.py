"""The catalogue of registered probes (one module or sub-package each); importing this package registers them."""

from latent_probe.probes.embedding import EmbeddingDumper
from latent_probe.probes.filters import FilterTiler
from latent_probe.probes.influence import InfluenceMapper
from latent_probe.probes.layer_transform import LayerTransformRecorder
from latent_probe.probes.linear import LinearProbe
from latent_probe.probes.model_similarity import ModelSimilarity
from latent_probe.probes.representation_drift import RepresentationDrift
from latent_probe.probes.similarity import LayerSimilarity
from latent_probe.probes.unit_stats import UnitStats
from latent_probe.probing import MomentWriter, Probe
from latent_probe.registry import register_probe

__all__ = ["EmbeddingDumper", "FilterTiler", "InfluenceMapper", "LayerSimilarity", "LayerTransformRecorder", "LinearProbe",
           "ModelSimilarity", "MomentWriter", "Probe", "RepresentationDrift", "UnitStats", "register_probe"]
