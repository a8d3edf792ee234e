"""The probing engine. A probe author reads ``probe.py`` (the ``Probe`` base) and ``firing.py`` (what it receives).

- ``probe.py``: the ``Probe`` base: options, what a probe declares, ``compute`` / ``write``, streaming hooks;
- ``firing.py``: ``Firing``, a probe's view of one moment (model, device, its layers' outputs, its stream);
- ``stream.py``: ``StreamState``, a streaming probe's states reduced across processes;
- ``runner.py``: ``ProbeRunner``, the one callback: when probes are due, firing, writing, state across resume;
- ``pass_plan.py`` and ``collection.py``: one forward pass per split and moment, shared by the due probes;
- ``setup.py`` and ``setup_pass.py``: layers resolved and checked by one forward pass before anything runs;
- ``moment_output.py``: the moment folder and its manifest; ``host.py``: post-hoc runs without the model's loss;
- ``layers.py``, ``hooks.py``, ``pooling.py``, ``sharding.py``, ``moments.py``, ``batch_size.py``: the rules they share.
"""

from latent_probe.artifacts.writer import MomentWriter
from latent_probe.dataspec import DataSpec, DataSpecOverrides, Normalization, build_data_spec
from latent_probe.dataspec.batches import Batch
from latent_probe.probing.collection import Activations
from latent_probe.probing.firing import Firing
from latent_probe.probing.hooks import differentiable_outputs, eval_mode, recorded_outputs
from latent_probe.probing.layers import module_path, module_paths, reduce_output, resolve_layers
from latent_probe.probing.moments import NAMED_MOMENTS, PROBE_MOMENT, epoch_moment
from latent_probe.probing.probe import Probe
from latent_probe.probing.runner import ProbeRunner
from latent_probe.probing.setup import prepare_probes
from latent_probe.probing.setup_pass import LayerCalls, SetupPass
from latent_probe.probing.stream import StreamState
from latent_probe.registry import register_probe

__all__ = [
    "NAMED_MOMENTS",
    "PROBE_MOMENT",
    "Activations",
    "Batch",
    "DataSpec",
    "DataSpecOverrides",
    "Firing",
    "LayerCalls",
    "MomentWriter",
    "Normalization",
    "Probe",
    "ProbeRunner",
    "SetupPass",
    "StreamState",
    "build_data_spec",
    "differentiable_outputs",
    "epoch_moment",
    "eval_mode",
    "module_path",
    "module_paths",
    "prepare_probes",
    "recorded_outputs",
    "reduce_output",
    "register_probe",
    "resolve_layers",
]
