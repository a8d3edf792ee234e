"""An example latent-probe plugin: ActivationStats (one probe, one file) and InputSaliency (a gradient probe),
registered on import."""

from __future__ import annotations

from latent_probe.probes import Probe, register_probe
from lp_example_plugin.saliency import InputSaliency  # noqa: F401  registers the gradient probe too


@register_probe()
class ActivationStats(Probe):
    """Mean, standard deviation and share of near-zero values of each chosen layer's outputs."""

    def compute(self, firing):
        """Every rank: the layers' outputs on the probe's samples (gathered from all ranks), summarised."""
        sample = firing.activations()
        return {
            layer: {
                "mean": out.mean().item(),
                "std": out.std().item(),
                "near_zero_share": (out.abs() < 1e-3).float().mean().item(),
            }
            for layer, out in sample.outputs.items()
        }

    def write(self, result, out):
        """Global rank 0: a JSON file and one TensorBoard scalar per statistic."""
        out.json("stats.json", result)
        out.scalars({f"{self.name}/{path}/{key}": value for path, stats in result.items() for key, value in stats.items()})
