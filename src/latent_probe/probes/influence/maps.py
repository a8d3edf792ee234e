"""Every node's single-pixel influence maps, in batched passes over chunks of single-pixel inputs.

Only pixels where the input and the reference differ are run: elsewhere the single-pixel input *is* the
reference (or the input), so the influence is exactly 0. When one ``nn.Linear`` alone reads the input
(an MLP), its matmul is replaced by a row plus a weight column (``affine_shortcut``); otherwise (a CNN)
the single-pixel inputs are built and the whole model runs on them.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from latent_probe.errors import ConfigError, require_choice
from latent_probe.probes.influence.input_shortcut import InputShortcut, input_linear
from latent_probe.probes.influence.integrated_gradients import integrated_gradients
from latent_probe.probing import recorded_outputs

MODES = ("inclusion", "ablation", "integrated_gradients")


@torch.no_grad()
def influence_maps(
    model: nn.Module,
    inputs: torch.Tensor,
    reference: torch.Tensor,
    layers: Sequence[str],
    image_shape: Sequence[int],
    mode: str = "inclusion",
    chunk_size: int = 4096,
    steps: int = 32,
    shortcut: bool = True,
) -> dict[str, torch.Tensor]:
    """``{layer: (n_inputs, n_nodes, H, W)}``: the effect of each pixel on each node, for every input.

    ``inclusion``: ``f(r with pixel p set to x_p) − f(r)``; ``ablation``: ``f(x) − f(x with pixel p set
    to r_p)``; ``integrated_gradients``: see ``integrated_gradients``. ``inputs`` are model inputs
    ``(n, *input_shape)`` and ``reference`` one model input; a pixel is one position of ``image_shape``
    ``(C, H, W)`` with all its channels (inputs flatten in C, H, W order). At most ``chunk_size``
    single-pixel inputs go through the model at once; ``shortcut=False`` always runs the whole model.
    """
    require_choice("mode", mode, MODES)
    if mode == "integrated_gradients":
        return integrated_gradients(model, inputs, reference, layers, image_shape, steps, chunk_size)
    channels, height, width = image_shape
    n, pixels, shape = len(inputs), height * width, inputs.shape[1:]
    x, r = inputs.reshape(n, -1), reference.reshape(1, -1)
    image, pixel = torch.nonzero((x != r).reshape(n, channels, pixels).any(dim=1), as_tuple=True)
    ablation = mode == "ablation"
    # Each row starts from the reference (inclusion) or its input (ablation) and takes pixel p from the other.
    starts, values = (x, r) if ablation else (r, x)
    no_image = torch.zeros_like(image)
    origin, source = (image, no_image) if ablation else (no_image, image)
    offsets = torch.arange(channels, device=x.device) * pixels
    with recorded_outputs(model, layers) as records:
        base = _outputs(model, starts.reshape(len(starts), *shape), records)
        fast = _shortcut(model, inputs, layers, starts, records) if shortcut else None
        maps = {path: out.new_zeros(n * pixels, out.shape[1]) for path, out in base.items()}
        for lo in range(0, len(image), chunk_size):
            img, pix, start, src = (t[lo : lo + chunk_size] for t in (image, pixel, origin, source))
            elements = pix[:, None] + offsets  # (rows, C): where the pixel's channels sit in a flat input
            new = values.take(src[:, None] * values.shape[1] + elements)
            if fast is None:
                model(starts.index_select(0, start).scatter_(1, elements, new).reshape(len(img), *shape))
            else:
                fast.run(model, start, elements, new - starts.take(start[:, None] * starts.shape[1] + elements), inputs[:1])
            for path, out in _taken(records).items():
                effect = base[path].index_select(0, start) - out if ablation else out - base[path]
                maps[path].index_copy_(0, img * pixels + pix, effect)
    return {path: m.reshape(n, pixels, -1).transpose(1, 2).reshape(n, -1, height, width) for path, m in maps.items()}


def _outputs(model: nn.Module, batch: torch.Tensor, records: dict[str, list[torch.Tensor]]) -> dict[str, torch.Tensor]:
    model(batch)
    return _taken(records)


def _taken(records: dict[str, list[torch.Tensor]]) -> dict[str, torch.Tensor]:
    for path, outs in records.items():
        if not outs:
            raise ConfigError(f"layer {path!r} is never called in the model's forward pass, so it has no influence map")
    taken = {path: outs[-1].flatten(1) for path, outs in records.items()}
    _clear(records)
    return taken


def _clear(records: dict[str, list[torch.Tensor]]) -> None:
    for outs in records.values():
        outs.clear()


def _shortcut(model: nn.Module, inputs: torch.Tensor, layers: Sequence[str], starts: torch.Tensor, records) -> InputShortcut | None:
    path = input_linear(model, inputs[:1], layers)
    _clear(records)  # the check's forward pass was captured too
    return None if path is None else InputShortcut(dict(model.named_modules())[path], starts.reshape(len(starts), -1))
