"""Skipping the input layer's matmul for inputs that differ from a base input in one pixel.

When one ``nn.Linear`` reads the flattened model input and is the only way that input reaches the chosen
layers, an input ``b + d·e_p`` (``d`` in pixel ``p``'s channels) gives that layer ``linear(b) + d·W[:, p]``:
one precomputed row plus one weight column, not a ``(rows × D) @ (D × out)`` matmul over mostly
unchanged inputs. The model then runs from that layer on; its input's values are never read.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager

import torch
from torch import nn

from latent_probe.probing import differentiable_outputs


def input_linear(model: nn.Module, example: torch.Tensor, layers: Iterable[str]) -> str | None:
    """Path of the ``nn.Linear`` that alone carries the model input to ``layers``, reading it flattened; else None.

    Checked on one random input shaped like ``example``: the layer is called once, on exactly the
    flattened input (random values reveal any preprocessing), and once that call's input is detached,
    autograd finds no other path from the model input to any chosen layer. Call in eval mode.
    """
    width = example[0].numel()
    for path, module in model.named_modules():
        if isinstance(module, nn.Linear) and module.in_features == width and _carries_input_alone(model, module, example, list(layers)):
            return path
    return None


def _carries_input_alone(model: nn.Module, linear: nn.Linear, example: torch.Tensor, layers: list[str]) -> bool:
    seen: list[torch.Tensor] = []

    def cut(module, args):
        seen.append(args[0].detach())
        return (args[0].detach(), *args[1:])

    handle = linear.register_forward_pre_hook(cut)
    # Lightning runs probes under inference mode, where no autograd graph is recorded.
    with torch.inference_mode(False), torch.enable_grad(), differentiable_outputs(model, layers) as records:
        try:
            x = torch.randn(example[:1].shape, device=example.device, dtype=example.dtype, requires_grad=True)
            model(x)
        finally:
            handle.remove()
        if len(seen) != 1 or seen[0].shape != (1, x[0].numel()) or not torch.equal(seen[0], x.detach().reshape(1, -1)):
            return False
        if any(path not in records for path in layers):
            return False
        reached = [records[path].sum() for path in layers if records[path].requires_grad]
        if not reached:
            return True
        (other_path,) = torch.autograd.grad(torch.stack(reached).sum(), x, allow_unused=True)
        return other_path is None


class InputShortcut:
    """Runs a model on single-pixel changes of base inputs with its input layer's matmul replaced by rows plus columns.

    ``linear`` must be what ``input_linear`` found; ``starts`` are the base inputs, flattened ``(k, D)``.
    """

    def __init__(self, linear: nn.Linear, starts: torch.Tensor) -> None:
        self.linear = linear
        self.columns = linear.weight.t().contiguous()  # row i = weights of input element i
        self.base = linear(starts)

    def run(self, model: nn.Module, start: torch.Tensor, elements: torch.Tensor, delta: torch.Tensor, example: torch.Tensor) -> None:
        """Forward the rows ``starts[start]`` changed by ``delta`` at ``elements`` (both ``(rows, C)``); hooks see the outputs.

        The model is fed ``example`` (one input) repeated: only its shape matters, nothing reads its values.
        """
        out = self.base.index_select(0, start)
        for channel in range(delta.shape[1]):
            out.addcmul_(delta[:, channel : channel + 1], self.columns.index_select(0, elements[:, channel]))
        with replayed(self.linear) as slot:
            slot[0] = out
            model(example.expand(len(start), *example.shape[1:]))


@contextmanager
def replayed(module: nn.Module) -> Iterator[list]:
    """Inside the block ``module`` returns ``slot[0]`` instead of computing its output; its hooks still run."""
    slot: list = [None]
    own = vars(module).get("forward")
    module.forward = lambda *args, **kwargs: slot[0]
    try:
        yield slot
    finally:
        if own is None:
            del module.forward
        else:
            module.forward = own
