"""Integrated gradients of every node of chosen layers, per pixel, in batched forward/backward passes."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from latent_probe.probing import differentiable_outputs


def integrated_gradients(
    model: nn.Module,
    inputs: torch.Tensor,
    reference: torch.Tensor,
    layers: Sequence[str],
    image_shape: Sequence[int],
    steps: int = 32,
    chunk_size: int = 4096,
) -> dict[str, torch.Tensor]:
    """``{layer: (n_inputs, n_nodes, H, W)}``: ``(x − r) · mean_α ∇f_n(r + α(x − r))``, summed over a pixel's channels.

    The mean over the straight path from the reference ``r`` to the input ``x`` uses the midpoint rule
    with ``steps`` points, so each node's map sums to about ``f_n(x) − f_n(r)``. Each row of a pass is
    one (input, step, node): one backward of the sum of the rows' own nodes gives every row its gradient.
    """
    channels, height, width = image_shape
    n, shape = len(inputs), inputs.shape[1:]
    # Lightning runs probes under inference mode, where no autograd graph is recorded.
    with torch.inference_mode(False), torch.enable_grad(), differentiable_outputs(model, layers) as records:
        x, r = inputs.reshape(n, -1).clone(), reference.reshape(1, -1).clone()
        model(r.reshape(1, *shape))
        nodes = {path: records[path][0].numel() for path in layers}
        alphas = (torch.arange(steps, device=x.device, dtype=x.dtype) + 0.5) / steps
        maps = {}
        for path in layers:
            gradients = _mean_gradients(model, records, path, nodes[path], x, r, alphas, chunk_size, shape)
            attribution = gradients * (x - r)[:, None]
            maps[path] = attribution.reshape(n, nodes[path], channels, height * width).sum(2).reshape(n, -1, height, width)
    return maps


def _mean_gradients(model, records, path: str, count: int, x, r, alphas, chunk_size: int, shape) -> torch.Tensor:
    """``(n, count, D)``: each node's gradient with respect to the input, averaged over the path points."""
    n, steps = len(x), len(alphas)
    total = torch.zeros(n * count, x.shape[1], device=x.device, dtype=x.dtype)
    for lo in range(0, n * steps * count, chunk_size):
        row = torch.arange(lo, min(lo + chunk_size, n * steps * count), device=x.device)
        image, step, node = row // (steps * count), row // count % steps, row % count
        points = (r + alphas[step, None] * (x[image] - r)).requires_grad_()
        model(points.reshape(len(row), *shape))
        chosen = records[path].flatten(1).gather(1, node[:, None]).sum()
        (gradient,) = torch.autograd.grad(chosen, points)
        total.index_add_(0, image * count + node, gradient)
    return total.reshape(n, count, -1) / steps
