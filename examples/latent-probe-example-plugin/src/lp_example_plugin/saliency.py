"""A probe that differentiates: how strongly each input value moves a chosen layer (mean absolute gradient)."""

from __future__ import annotations

import torch

from latent_probe.probing import Probe, differentiable_outputs, register_probe


@register_probe()
class InputSaliency(Probe):
    """Mean |d ||layer output|| / d input| over the probe's samples: which input values each layer depends on most."""

    def compute(self, firing):
        """Every rank computes the same thing on its own samples' gradient; rank 0's result is written.

        The runner calls ``compute`` outside Lightning's inference mode, so autograd works here even under
        ``latent-probe probe``, ``validate`` and ``test``; inputs fetched here are ordinary tensors.
        """
        dataset = self.spec.dataset(self.split)
        count = min(len(dataset), self.max_samples or len(dataset))
        inputs = self.spec.fetch(dataset, list(range(count))).inputs.to(firing.device).float().requires_grad_()
        saliency = {}
        with torch.enable_grad(), differentiable_outputs(firing.model, self.layers) as records:
            for layer in self.layers:
                self.spec.call(firing.model, inputs)
                (gradient,) = torch.autograd.grad(records[layer].flatten(1).norm(dim=1).sum(), inputs)
                saliency[layer] = gradient.abs().mean(0).cpu()
        return saliency

    def write(self, result, out):
        """``saliency.npz`` (one array shaped like an input per layer), and pictures for image inputs."""
        out.npz("saliency.npz", {layer: values.numpy() for layer, values in result.items()})
        for layer, values in result.items():
            pixels = self.spec.to_pixels(values[None])
            if pixels is not None:
                out.png(f"{layer}_saliency.png", pixels[0], tag=f"{self.name}/{layer}")
