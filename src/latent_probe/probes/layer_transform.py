"""Layer-transform recorder (seed 003): the data points after every affine map and activation, in forward order."""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Any

import numpy as np
import pytorch_lightning as pl
import torch
from torch import nn

from latent_probe.errors import ConfigError, check_range
from latent_probe.probes.base import Probe, finite_only
from latent_probe.probes.capture import capture_outputs
from latent_probe.probes.collect import fetch_batch, split_dataset
from latent_probe.probes.output import MomentWriter
from latent_probe.registry import register_probe
from latent_probe.viz.steps import Boundary, Step, animation_frames, square_limits, steps_figure

INPUT, LABEL, INDEX = "input", "label", "index"


@dataclass
class TransformResult:
    """The recorded points of one moment: the input step first, then every chosen module's, in forward order."""

    index: np.ndarray
    label: np.ndarray
    steps: list[Step]
    class_names: list[str]
    boundary: Boundary | None


@register_probe()
class LayerTransformRecorder(Probe):
    """Record a fixed set of points after every step of the model (affine map, activation, ...) and draw them moving.

    Steps are the model's leaf modules in the order its forward pass calls them (found with hooks
    at setup, so registration order does not matter), or the modules named in ``layers``.
    Writes ``steps.png`` (one panel per step: 2-D as is, 3-D as a 3-D view, wider by PCA, said on
    the panel; for a 2-D input and a 1-D output also the decision boundary), ``steps_xy.png`` (the
    same as the GIF sees it: 3-D steps projected on x-y, as in the seed) when a step is 3-D,
    ``steps.gif`` (the points moving smoothly from step to step on fixed, equal axes) and
    ``steps.npz`` (``input``, ``label``, ``index`` and one ``(n, dim)`` array per module path).
    With ``every_n_epochs`` the same pictures per epoch show what training does.

    Args:
        gif: write the animation.
        frames_per_step: GIF frames from one step to the next (1 = jump).
        hold: extra GIF frames that rest on each step.
        frame_ms: duration of one GIF frame.
        boundary_resolution: grid points per side of the decision-boundary evaluation.
        boundary_level: the final output's value between the classes; default 0.5 after a
            ``Sigmoid`` and 0 otherwise (logits, ``Tanh``).
        **kwargs: the shared options of ``Probe`` (``layers``, ``split``, ``max_samples``, cadence, ...).
    """

    def __init__(
        self,
        gif: bool = True,
        frames_per_step: int = 6,
        hold: int = 2,
        frame_ms: int = 80,
        boundary_resolution: int = 150,
        boundary_level: float | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        check_range("frames_per_step", frames_per_step, minimum=1)
        check_range("hold", hold, minimum=0)
        check_range("frame_ms", frame_ms, minimum=10)
        check_range("boundary_resolution", boundary_resolution, minimum=2)
        self.gif, self.frames_per_step, self.hold, self.frame_ms = gif, frames_per_step, hold, frame_ms
        self.boundary_resolution, self.boundary_level = boundary_resolution, boundary_level
        self.kinds: dict[str, str] = {}

    def default_layers(self, pl_module: pl.LightningModule) -> list[str]:
        """Every leaf module (those the forward pass does not call are dropped at setup)."""
        return leaf_paths(pl_module)

    def check(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        """Order the layers by one forward pass; each must be called exactly once and give one row per sample."""
        dataset = split_dataset(trainer, self.split)
        inputs, _ = fetch_batch(dataset, list(range(min(2, len(dataset)))))
        calls = forward_calls(pl_module, inputs.to(pl_module.device), self.layers)
        problems = call_problems(calls, len(inputs), explicit=self.layer_patterns is not None)
        if problems:
            raise ConfigError(
                f"LayerTransformRecorder cannot record {type(pl_module).__name__}: {'; '.join(problems)}. HINT: a step "
                "must be a module called once per forward pass (give each activation its own module), or set `layers`"
            )
        self.layers = [path for path, shapes in calls.items() if shapes]
        if not self.layers:
            raise ConfigError(f"LayerTransformRecorder found no module called by {type(pl_module).__name__}.forward")
        modules = dict(pl_module.named_modules())
        self.kinds = {path: type(modules[path]).__name__ for path in self.layers}

    def compute(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> TransformResult:
        """Every step's points on the probe's samples (gathered by index), and the decision boundary if drawable."""
        collected = self.collect(trainer, pl_module, keep_inputs=True)
        labels = collected.label.numpy()
        names = getattr(trainer.datamodule, "class_names", None) or [str(c) for c in range(int(labels.max()) + 1)]
        steps = [Step(INPUT, "", collected.inputs.flatten(1).numpy())]
        steps += [Step(path, self.kinds[path], collected.outputs[path].flatten(1).numpy()) for path in self.layers]
        return TransformResult(
            index=collected.index.numpy(),
            label=labels,
            steps=steps,
            class_names=[str(n) for n in names],
            boundary=self._boundary(pl_module, collected.inputs, steps[-1]),
        )

    @torch.no_grad()
    def _boundary(self, pl_module: pl.LightningModule, inputs: torch.Tensor, last: Step) -> Boundary | None:
        if inputs[0].numel() != 2 or last.points.shape[1] != 1:
            return None
        # The grid covers the input panel's square limits, so the coloured regions fill the panel.
        xs, ys = (torch.linspace(*limits, self.boundary_resolution) for limits in square_limits(inputs.flatten(1).numpy()))
        grid = torch.cartesian_prod(ys, xs).flip(1).reshape(-1, *inputs.shape[1:])  # x varies fastest
        with capture_outputs(pl_module, [last.name]) as records:
            for chunk in grid.split(self.batch_size):
                pl_module(chunk.to(pl_module.device))
        values = torch.cat(records[last.name]).reshape(len(ys), len(xs)).float().cpu().numpy()
        level = self.boundary_level
        if level is None:
            level = 0.5 if last.kind == "Sigmoid" else 0.0
        return Boundary(xs.numpy(), ys.numpy(), values, level)

    def write(self, result: TransformResult, out: MomentWriter) -> None:
        """``steps.npz``, the grid of panels (also to TensorBoard), the x-y grid for 3-D steps, and the GIF."""
        arrays = {INPUT: result.steps[0].points, LABEL: result.label, INDEX: result.index}
        out.npz("steps.npz", {**arrays, **{step.name: step.points for step in result.steps[1:]}})
        finite = finite_only({step.name: step.points for step in result.steps}, out.when, self.name)
        steps = [step for step in result.steps if step.name in finite]
        boundary = result.boundary if result.boundary is not None and np.isfinite(result.boundary.values).all() else None
        title = f"{self.name} @ {out.when}: {self.split} split, {len(result.index)} points"
        figure = steps_figure(steps, result.label, result.class_names, title, boundary)
        out.png("steps.png", figure, tag=f"{self.name}/steps")
        if any(step.points.shape[1] == 3 for step in steps):
            flat = steps_figure(steps, result.label, result.class_names, f"{title} (x-y projections)", three_d=False)
            out.png("steps_xy.png", flat)
        if self.gif:
            frames = animation_frames(steps, result.label, result.class_names, title, self.frames_per_step, self.hold)
            out.gif("steps.gif", frames, duration_ms=self.frame_ms)


def leaf_paths(model: nn.Module) -> list[str]:
    """Paths of the modules with no submodules (the model's elementary steps), in registration order."""
    return [path for path, module in model.named_modules() if path and not any(True for _ in module.children())]


@torch.no_grad()
def forward_calls(model: nn.Module, inputs: torch.Tensor, paths: list[str]) -> dict[str, list[tuple[int, ...]]]:
    """Run ``model(inputs)`` once (eval mode, modes restored): each path's output shapes, one per call.

    Paths come in the order of their first call; those never called come last, with no shapes.
    """
    modules = dict(model.named_modules())
    shapes: dict[str, list[tuple[int, ...]]] = {}
    handles = [modules[path].register_forward_hook(partial(_note_call, shapes, path)) for path in paths]
    try:
        with capture_outputs(model, []):  # eval mode inside, every module's train/eval flag restored after
            model(inputs)
    finally:
        for handle in handles:
            handle.remove()
    return {**shapes, **{path: [] for path in paths if path not in shapes}}


def _note_call(shapes: dict[str, list[tuple[int, ...]]], path: str, module, inputs, output) -> None:
    shapes.setdefault(path, []).append(tuple(output.shape) if isinstance(output, torch.Tensor) else ())


def call_problems(calls: dict[str, list[tuple[int, ...]]], n_samples: int, explicit: bool) -> list[str]:
    """Why some modules cannot be steps: called twice, no per-sample tensor, or (when named) never called."""
    problems = []
    for path, shapes in calls.items():
        if len(shapes) > 1:
            problems.append(f"{path!r} is called {len(shapes)} times")
        elif shapes and (not shapes[0] or shapes[0][0] != n_samples):
            problems.append(f"{path!r} gives no per-sample tensor (output shape {shapes[0]} for {n_samples} samples)")
        elif not shapes and explicit:
            problems.append(f"{path!r} is not called by forward")
    return problems
