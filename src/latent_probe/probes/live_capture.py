"""Layer outputs kept with their autograd graph, for probes that differentiate through a model."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager

import torch
from torch import nn

from latent_probe.probes.capture import capture_outputs


@contextmanager
def live_outputs(model: nn.Module, layers: Iterable[str]) -> Iterator[dict[str, torch.Tensor]]:
    """Inside the block, ``records[path]`` is the last output of each listed module, not detached.

    Gradients flow back from the recorded tensor. Downstream modules get a clone instead, so that an
    in-place op after the layer (``ReLU(inplace=True)``) cannot change what was recorded. As with
    ``capture_outputs``, the model is in eval mode inside the block; hooks are removed and modes
    restored on exit, even when the block raises.
    """
    modules = dict(model.named_modules())
    records: dict[str, torch.Tensor] = {}
    with capture_outputs(model, []):  # only for its eval mode and its restoring of train/eval modes
        handles = [modules[path].register_forward_hook(_keeper(records, path)) for path in layers]
        try:
            yield records
        finally:
            for handle in handles:
                handle.remove()


def _keeper(records: dict[str, torch.Tensor], path: str):
    def hook(module, inputs, output):
        if not isinstance(output, torch.Tensor):
            records[path] = output[0]
            return None
        records[path] = output
        return output.clone()

    return hook
