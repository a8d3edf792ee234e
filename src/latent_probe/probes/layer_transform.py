"""Layer-transform recorder: the data points after every affine map and activation, in forward order (how a
narrow tanh network bends 2-D space until the classes come apart)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pytorch_lightning as pl
import torch
from torch import nn

from latent_probe.errors import check_memory, check_range
from latent_probe.probing import DataSpec, Firing, MomentWriter, Probe, SetupPass, module_path, recorded_outputs
from latent_probe.registry import register_probe
from latent_probe.viz.steps import DPI, Boundary, Step, animation_frames, square_limits, steps_figure

INPUT, LABEL, INDEX = "input", "label", "index"
GIF_FRAME_BYTES = round(4.4 * DPI) * round(4.7 * DPI) * 4  # one frame of animation_frames (4.4 x 4.7 in): RGB, then its palette copy
BOUNDARY_POINT_BYTES = 5 * 4  # per grid point: x and y, their flipped copy, the output (float32)
MAX_FRAME_MS = 655_350  # a GIF keeps a frame's duration in centiseconds, in 16 bits


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
    same as the GIF sees it: 3-D steps projected on x-y, as in the article) when a step is 3-D,
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

    keeps_inputs = True  # the points are drawn in input space too
    skip_unreadable_defaults = False  # a step left out would misrepresent the path of the points

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
        check_range("frame_ms", frame_ms, minimum=10, maximum=MAX_FRAME_MS)
        check_range("boundary_resolution", boundary_resolution, minimum=2)
        check_memory("boundary_resolution", boundary_resolution, boundary_resolution**2 * BOUNDARY_POINT_BYTES,
                     "the decision-boundary grid")
        if boundary_level is not None:
            check_range("boundary_level", boundary_level)
        self.gif, self.frames_per_step, self.hold, self.frame_ms = gif, frames_per_step, hold, frame_ms
        self.boundary_resolution, self.boundary_level = boundary_resolution, boundary_level
        self.kinds: dict[str, str] = {}
        self._check_gif(steps=2)  # the fewest steps there can be (the input and one module); the real count at setup

    def default_layers(self, pl_module: pl.LightningModule) -> list[str]:
        """Every leaf module (those the forward pass does not call are dropped at setup)."""
        return leaf_paths(pl_module)

    def check(self, spec: DataSpec, pl_module: pl.LightningModule, setup_pass: SetupPass | None) -> None:
        """Steps in the order the setup forward pass called them; each must be called once and give one row per sample."""
        self.layers = setup_pass.called_in_order(self.layers) if setup_pass is not None else self.layers
        modules = dict(pl_module.named_modules())
        self.kinds = {layer: type(modules[module_path(layer)]).__name__ for layer in self.layers}
        self._check_gif(steps=len(self.layers) + 1)

    def _check_gif(self, steps: int) -> None:
        """Refuse ``frames_per_step`` and ``hold`` that would make a GIF of more frames than memory holds."""
        if not self.gif:
            return
        frames = steps * (1 + self.hold) + (steps - 1) * (self.frames_per_step - 1)  # as viz.steps.frame_schedule counts
        check_memory("frames_per_step", f"{self.frames_per_step} with hold {self.hold} ({frames:,} frames of {steps} steps)",
                     frames * GIF_FRAME_BYTES, "the GIF")

    def compute(self, firing: Firing) -> TransformResult:
        """Every step's points on the probe's samples (gathered by index), and the decision boundary if drawable."""
        sample = firing.activations(keep_inputs=True)
        labels = sample.label.numpy() if sample.label is not None else np.zeros(len(sample), dtype=np.int64)
        names = self.spec.names_for(sample.label) if sample.label is not None else ["all samples"]
        steps = [] if sample.inputs is None else [Step(INPUT, "", self.pooling(sample.inputs).numpy())]
        steps += [Step(layer, self.kinds[layer], sample.outputs[layer].flatten(1).numpy()) for layer in self.layers]
        boundary = None if sample.inputs is None else self._boundary(firing, sample.inputs, steps[-1])
        return TransformResult(index=sample.index.numpy(), label=labels, steps=steps, class_names=names, boundary=boundary)

    @torch.no_grad()
    def _boundary(self, firing: Firing, inputs: torch.Tensor, last: Step) -> Boundary | None:
        if inputs[0].numel() != 2 or last.points.shape[1] != 1:
            return None
        # The grid covers the input panel's square limits, so the coloured regions fill the panel.
        xs, ys = (torch.linspace(*limits, self.boundary_resolution) for limits in square_limits(inputs.flatten(1).numpy()))
        grid = torch.cartesian_prod(ys, xs).flip(1).reshape(-1, *inputs.shape[1:])  # x varies fastest
        with recorded_outputs(firing.model, [last.name]) as records:
            for chunk in grid.split(firing.batch_size):
                self.spec.call(firing.model, chunk.to(firing.device))
        values = torch.cat(records[last.name]).reshape(len(ys), len(xs)).float().cpu().numpy()
        level = self.boundary_level
        if level is None:
            level = 0.5 if last.kind == "Sigmoid" else 0.0
        return Boundary(xs.numpy(), ys.numpy(), values, level)

    def write(self, result: TransformResult, out: MomentWriter) -> None:
        """``steps.npz``, the grid of panels (also to TensorBoard), the x-y grid for 3-D steps, and the GIF."""
        arrays = {LABEL: result.label, INDEX: result.index}
        out.npz("steps.npz", {**arrays, **{step.name: step.points for step in result.steps}})
        finite = out.finite({step.name: step.points for step in result.steps})
        steps = [step for step in result.steps if step.name in finite]
        boundary = result.boundary if result.boundary is not None and np.isfinite(result.boundary.values).all() else None
        title = f"{self.name} @ {out.moment}: {self.split} split, {len(result.index)} points"
        picture = steps_figure(steps, result.label, result.class_names, title, boundary)
        out.png("steps.png", picture, tag=f"{self.name}/steps")
        if any(step.points.shape[1] == 3 for step in steps):
            flat = steps_figure(steps, result.label, result.class_names, f"{title} (x-y projections)", three_d=False)
            out.png("steps_xy.png", flat)
        if self.gif:
            frames = animation_frames(steps, result.label, result.class_names, title, self.frames_per_step, self.hold)
            out.gif("steps.gif", frames, duration_ms=self.frame_ms)


def leaf_paths(model: nn.Module) -> list[str]:
    """Paths of the modules with no submodules (the model's elementary steps), in registration order."""
    return [path for path, module in model.named_modules() if path and not any(True for _ in module.children())]

