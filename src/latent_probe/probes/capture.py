"""Forward-hook capture of layer outputs, shared by every probe."""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

import torch
from torch import nn

from latent_probe.errors import ConfigError, order_choices


def module_paths(model: nn.Module) -> list[str]:
    """Every named submodule's path, in registration order (the root module excluded)."""
    return [name for name, _ in model.named_modules() if name]


def resolve_layers(model: nn.Module, patterns: Iterable[str]) -> list[str]:
    """Expand module paths or fnmatch patterns to existing paths, in model order; unknown ones raise."""
    available = module_paths(model)
    chosen: list[str] = []
    for pattern in patterns:
        matches = [p for p in available if p == pattern or fnmatch.fnmatchcase(p, pattern)]
        if not matches:
            listed = ", ".join(order_choices(pattern, available, limit=30))
            raise ConfigError(
                f"layer {pattern!r} not found in {type(model).__name__}; module paths: {listed}. "
                "HINT: layers are module paths as in dict(model.named_modules()), fnmatch patterns allowed"
            )
        chosen += [m for m in matches if m not in chosen]
    order = {path: i for i, path in enumerate(available)}
    return sorted(chosen, key=order.__getitem__)


def _first_tensor(output) -> torch.Tensor:
    if isinstance(output, torch.Tensor):
        return output
    if isinstance(output, (tuple, list)) and output and isinstance(output[0], torch.Tensor):
        return output[0]
    raise TypeError(f"layer output of type {type(output).__name__} is not a tensor")


@contextmanager
def capture_outputs(model: nn.Module, layers: Iterable[str]) -> Iterator[dict[str, list[torch.Tensor]]]:
    """Record each listed module's output during forward passes inside the ``with`` block.

    Outputs are cloned and detached at hook time, so a later in-place op (``ReLU(inplace=True)``)
    cannot change what was recorded. Hooks are removed and the model's train/eval mode restored
    on exit, even when the block raises. The model is put in eval mode inside the block.
    """
    modules = dict(model.named_modules())
    records: dict[str, list[torch.Tensor]] = {path: [] for path in layers}
    was_training = {name: module.training for name, module in modules.items()}
    handles = []
    try:
        for path in records:
            handles.append(modules[path].register_forward_hook(_recorder(records[path])))
        model.eval()
        yield records
    finally:
        for handle in handles:
            handle.remove()
        for name, module in modules.items():
            module.training = was_training[name]


def _recorder(store: list[torch.Tensor]):
    def hook(module, inputs, output):
        store.append(_first_tensor(output).detach().clone())

    return hook
