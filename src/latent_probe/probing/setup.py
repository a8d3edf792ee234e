"""Setting probes up before anything runs: resolve each probe's layers, one setup forward pass with all of them
hooked, and each probe's own checks. Any problem is a ``ConfigError`` naming the probe, raised before training
(and, from the CLI, before any run folder exists)."""

from __future__ import annotations

from collections.abc import Sequence

from pytorch_lightning.utilities import rank_zero_warn
from torch import nn

from latent_probe.dataspec import DataSpec, declared_classes
from latent_probe.errors import ConfigError
from latent_probe.probing.layers import module_paths, named_exactly, resolve_layers
from latent_probe.probing.moments import check_moments, model_phases
from latent_probe.probing.probe import Probe
from latent_probe.probing.setup_pass import SetupPass, run_setup_pass

LAYER_HINT = "probes read modules called once per forward pass (give each activation its own module), or set `layers`"


def prepare_probes(probes: Sequence[Probe], model: nn.Module, spec: DataSpec) -> None:
    """Resolve every probe's layers, run one setup forward pass with all of them hooked, and check each probe."""
    check_unique_names(probes)
    phases = model_phases(model)
    for probe in probes:
        with naming(probe):
            check_moments(probe.moments, phases, type(model).__name__)
    spec.check_class_names(declared_classes(model), type(model).__name__)
    for probe in probes:
        with naming(probe):
            resolve(probe, model)
    readers = [probe for probe in probes if probe.reads_activations and probe.layers]
    setup_pass = None
    if readers:
        layers = [layer for probe in readers for layer in probe.layers]
        with naming(readers[0]):
            setup_pass = run_setup_pass(model, spec, readers[0].split, layers)
    for probe in probes:
        with naming(probe):
            for split in probe.splits():
                if len(spec.dataset(split)) == 0:  # type: ignore[arg-type]
                    raise ConfigError(f"the {split!r} split of {spec.source} has no samples")
            prepare_probe(probe, spec, model, setup_pass)


def resolve(probe: Probe, model: nn.Module) -> list[str]:
    """Set ``probe.layers`` from its ``layers``, the model's ``probe_layers`` hint or its default; unknown names raise."""
    patterns = probe.layer_patterns
    if patterns is None:
        hints = getattr(model, "probe_layers", None) or {}
        patterns = list(hints.get(probe.name, hints.get(type(probe).__name__, []))) or probe.default_layers(model)
    probe.layers = resolve_layers(model, patterns) if patterns else []
    return probe.layers


def prepare_probe(probe: Probe, spec: DataSpec, model: nn.Module, setup_pass: SetupPass | None) -> None:
    """Check ``probe``'s layers against the setup forward pass, then its own needs; give it the spec."""
    if probe.reads_activations and setup_pass is not None and probe.layers:
        check_layers(probe, setup_pass)
    if probe.needs_layers and not probe.layers:
        raise ConfigError(no_layers(probe, model))
    if probe.needs_labels:
        spec.require_labels(probe.name)
        if setup_pass is not None:
            setup_pass.check_class_labels(probe.name, spec.label_key)
    probe.check(spec, model, setup_pass)
    probe.spec = spec


def check_layers(probe: Probe, setup_pass: SetupPass) -> None:
    """Keep the layers the setup pass can read. A problem with a layer of ``layers`` is an error, except a module
    matched only by a pattern and never called: it is left out, as default layers that cannot be read are."""
    explicit = probe.layer_patterns is not None
    named = named_exactly(probe.layer_patterns) if explicit else set()
    why = "never called by the forward pass; " + ("matched only by a pattern" if explicit else "a default layer")
    probe.left_out = {layer: why for layer in setup_pass.never_called(probe.layers) if layer not in named}
    if explicit and len(probe.left_out) == len(probe.layers):
        raise ConfigError(f"layers {probe.layer_patterns} match only modules the forward pass never calls: "
                          f"{', '.join(probe.left_out)}. HINT: latent-probe layers --config ... lists the modules it calls")
    problems = setup_pass.problems(probe.layers, named)
    if problems:
        if explicit or not probe.skip_unreadable_defaults:
            raise ConfigError(f"{problems[0]}. HINT: {LAYER_HINT}")
        rank_zero_warn(f"probe {probe.name!r} skips default layers it cannot read: {'; '.join(problems)}")
    probe.layers = [layer for layer in probe.layers if setup_pass.readable(layer)]
    probe.layer_parts = {layer: setup_pass.layers[layer].part for layer in probe.layers}
    probe.layer_shapes = {layer: setup_pass.layers[layer].shapes[0][1:] for layer in probe.layers}


def no_layers(probe: Probe, model: nn.Module) -> str:
    """Why a probe has nothing to read: its ``layers`` matched nothing readable, or its default found nothing."""
    default = (type(probe).default_layers.__doc__ or "").strip().splitlines()[0].rstrip(".").lower()
    if probe.layer_patterns is not None:
        why = "`layers` left nothing readable"
    elif type(probe).default_layers is Probe.default_layers:
        why = "it has no default layers"
    else:
        why = f"its default ({default}) found none"
    paths = ", ".join(module_paths(model)[:30])
    return (f"{type(probe).__name__} needs `layers` (module paths): {why} in {type(model).__name__}, which has: {paths}. "
            "HINT: latent-probe layers --config ... lists the modules and which probes can read each")


def check_unique_names(probes: Sequence[Probe]) -> None:
    """Raise when two probes share a name: they would write into one folder and one checkpoint entry."""
    seen: dict[str, Probe] = {}
    for probe in probes:
        if probe.name in seen:
            raise ConfigError(
                f"two probes are named {probe.name!r} ({type(seen[probe.name]).__name__} and {type(probe).__name__}): both "
                f"would write probes/{probe.name}/, so one would silently lose its artifacts. HINT: set `name:` on one of them, "
                f"e.g. name: {probe.name}_2"
            )
        seen[probe.name] = probe


class naming:  # noqa: N801  used as a context manager, named as one
    """Prefix a setup error with the probe it concerns (once)."""

    def __init__(self, probe: Probe) -> None:
        self.prefix = f"probe {probe.name!r}"

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind, error, traceback) -> bool:
        if isinstance(error, ConfigError) and not str(error).startswith(self.prefix):
            raise ConfigError(f"{self.prefix}: {error}") from None
        return False
