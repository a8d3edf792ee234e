"""The probing engine: everything a probe author reads.

- ``probe.py``: the ``Probe`` base (cadence, moments, setup checks, firing, state across resume);
- ``DataSpec`` (re-exported from ``latent_probe.dataspec``, the layer below): the one contract for reading a run's
  data and calling its model;
- ``layers.py``: layer names, patterns and the rule that reduces any layer output to a tensor;
- ``hooks.py``: eval mode and forward hooks (detached copies, or outputs with their graph);
- ``dry_run.py``: the setup forward pass that finds layer problems before training;
- ``activations.py`` and ``sharding.py``: a fixed sample's layer outputs, sharded over DDP ranks and gathered by index;
- ``moments.py``: moment names.
"""

from latent_probe.artifacts.writer import MomentWriter
from latent_probe.dataspec import Batch, DataSpec, DataSpecOverrides, Normalization, build_data_spec
from latent_probe.probing.activations import Activations
from latent_probe.probing.dry_run import DryRun, LayerCalls
from latent_probe.probing.hooks import differentiable_outputs, eval_mode, recorded_outputs
from latent_probe.probing.layers import module_path, module_paths, reduce_output, resolve_layers
from latent_probe.probing.moments import NAMED_MOMENTS, PROBE_MOMENT, epoch_moment
from latent_probe.probing.probe import Probe, prepare_probes
from latent_probe.registry import register_probe

__all__ = [
    "NAMED_MOMENTS",
    "PROBE_MOMENT",
    "Activations",
    "Batch",
    "DataSpec",
    "DataSpecOverrides",
    "DryRun",
    "LayerCalls",
    "MomentWriter",
    "Normalization",
    "Probe",
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
