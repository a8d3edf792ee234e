"""All forward-hook plumbing of the probes: eval mode, hooks on layers (the setup pass's too), detached copies of layer
outputs, and outputs kept with their graph.

Hooks are registered inside ``try`` and removed in ``finally``; every module's train/eval flag is
restored on exit, even when the block raises. Outputs are reduced to a tensor by ``layers.reduce_output``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager

import torch
from torch import nn

from latent_probe.probing.layers import reduce_output, split_part


@contextmanager
def eval_mode(model: nn.Module) -> Iterator[nn.Module]:
    """The model in eval mode inside the block; each module's own train/eval flag restored after."""
    modules = list(model.modules())
    was_training = [module.training for module in modules]
    try:
        model.eval()
        yield model
    finally:
        for module, training in zip(modules, was_training):
            module.training = training


def device_of(model: nn.Module) -> torch.device:
    """The device of ``model``'s first parameter or buffer (the CPU for a module with neither): where its inputs go."""
    tensor = next(model.parameters(), None)
    if tensor is None:
        tensor = next(model.buffers(), None)
    return tensor.device if tensor is not None else torch.device("cpu")


@contextmanager
def hooked(model: nn.Module, layers: Iterable[str], make_hook) -> Iterator[None]:
    """Inside the block, ``make_hook(layer, part)`` is a forward hook on each layer's module, and the model in eval mode."""
    modules = dict(model.named_modules())
    handles = []
    try:
        for layer in layers:
            path, part = split_part(layer)
            handles.append(modules[path].register_forward_hook(make_hook(layer, part)))
        with eval_mode(model):
            yield
    finally:
        for handle in handles:
            handle.remove()


@contextmanager
def recorded_outputs(model: nn.Module, layers: Iterable[str], transform: Callable[[torch.Tensor], torch.Tensor] | None = None
                     ) -> Iterator[dict[str, list[torch.Tensor]]]:
    """Inside the block, ``records[layer]`` lists a detached copy of the layer's output at every call.

    ``transform`` (e.g. the probe's pooling) is applied in the hook, so only its result is kept. Copies are
    taken at hook time, so a later in-place op (``ReLU(inplace=True)``) cannot change what was recorded.
    The model is in eval mode inside the block.
    """
    layers = list(layers)
    records: dict[str, list[torch.Tensor]] = {layer: [] for layer in layers}

    def make_hook(layer: str, part):
        def hook(module, inputs, output):
            value = reduce_output(output, part)[0].detach()
            kept = transform(value) if transform is not None else value
            records[layer].append(kept.clone() if kept.data_ptr() == value.data_ptr() else kept)

        return hook

    with hooked(model, layers, make_hook):
        yield records


@contextmanager
def differentiable_outputs(model: nn.Module, layers: Iterable[str]) -> Iterator[dict[str, torch.Tensor]]:
    """Inside the block, ``records[layer]`` is the layer's last output *with* its autograd graph.

    Gradients flow back from the recorded tensor. For a tensor output, downstream modules get a
    clone, so that an in-place op after the layer cannot change what was recorded. Eval mode inside.
    """
    layers = list(layers)
    records: dict[str, torch.Tensor] = {}

    def make_hook(layer: str, part):
        def hook(module, inputs, output):
            records[layer] = reduce_output(output, part)[0]
            return output.clone() if isinstance(output, torch.Tensor) else None

        return hook

    with hooked(model, layers, make_hook):
        yield records
