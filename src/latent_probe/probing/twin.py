"""A twin of the probed model: a second instance of its architecture with weights of its own, read on the same batches.

A probe that compares two models (``probes/model_similarity.py``) runs the twin on every batch of the probed model's
pass, hooked and pooled by the same rule. The twin is a deep copy of the model's modules, parameters and buffers; what
else its modules hold (a data spec, a config object, a dataset a model keeps a reference to) is shared with the model,
not copied: the forward pass reads it, and a copy could cost as much as the data itself.
"""

from __future__ import annotations

import copy
import types

import torch
from torch import nn

from latent_probe.dataspec import Batch, DataSpec, to_device
from latent_probe.probing.hooks import recorded_outputs
from latent_probe.probing.pooling import Pooling

# Copied, never shared: modules, tensors, containers (a plain list may hold modules, whose hooks must be the twin's) and
# bound methods (a copy is bound to the twin's module, not the model's).
COPIED = (nn.Module, torch.Tensor, list, tuple, dict, set, types.MethodType)
MODULE_INTERNALS = frozenset(vars(nn.Module()))  # nn.Module's own dicts (parameters, buffers, hooks): always the twin's own


def twin(model: nn.Module) -> nn.Module:
    """A copy of ``model``'s architecture and weights, gradients off, sharing the other objects its modules hold."""
    shared = {id(value): value for module in model.modules() for name, value in vars(module).items()
              if name not in MODULE_INTERNALS and not isinstance(value, COPIED)}
    copied = copy.deepcopy(model, shared)
    copied.requires_grad_(False)
    return copied


def module_shapes(model: nn.Module) -> dict[str, tuple[int, ...]]:
    """Every parameter's and buffer's shape by name: two models of one architecture give the same."""
    return {name: tuple(tensor.shape) for name, tensor in [*model.named_parameters(), *model.named_buffers()]}


@torch.no_grad()
def read_layers(model: nn.Module, spec: DataSpec, batch: Batch, layers: list[str], pooling: Pooling,
                device: torch.device) -> dict[str, torch.Tensor]:
    """``layers`` of ``model`` on ``batch`` (eval mode, hooks removed after), pooled with the batch's padding mask as the
    probed model's layers are in its pass: ``(n, features)`` float32 on ``device``."""
    with recorded_outputs(model, layers, lambda output: pooling(output, batch.mask)) as records:
        spec.call(model, to_device(batch.inputs, device))
    return {layer: records[layer].pop().float() for layer in layers}


__all__ = ["module_shapes", "read_layers", "twin"]
