"""``latent-probe layers --config X.yaml``: every module the setup pass calls, what it gives and which probes can read it.

The model and data are built exactly as ``fit`` builds them (same config, overrides and short names); one forward
pass of the setup batch runs with every module hooked. Nothing is trained and no run folder is made.

Example:
    $ latent-probe layers --config configs/quickstart.yaml
    module                 type      calls  output          reads   probes
    net.hidden_layers.0    Linear    1      tensor (2, 3)   (2, 3)  layer_transform_recorder
"""

from __future__ import annotations

import copy
import json
import warnings
from dataclasses import asdict, dataclass, field

from torch import nn

from latent_probe.cli.lightning_cli import LatentProbeCLI
from latent_probe.cli.reference_weights import attach_references
from latent_probe.dataspec import DataSpec, build_data_spec
from latent_probe.errors import ConfigError
from latent_probe.probing import Probe
from latent_probe.probing.layers import module_paths
from latent_probe.probing.setup import prepare_probe
from latent_probe.probing.setup_pass import SetupPass, run_setup_pass
from latent_probe.registry import PROBES

DEFAULT_SPLIT = "val"  # the probes' own default split
NOTE = ("calls: per forward pass; 0 = never called (a pattern leaves such modules out, a name given exactly is an error).\n"
        "reads: the part a probe reads of `path` (the first tensor) and its shape; name another part as path[0] or path[key].")


@dataclass
class LayerRow:
    """One module as the setup pass saw it."""

    module: str
    type: str
    calls: int
    output: str
    reads: str  # the part and its shape, e.g. "(2, 16)" or "[0] (2, 17, 64)"; "" when nothing can be read
    probes: list[str] = field(default_factory=list)  # the probes that can read it
    why_not: dict[str, str] = field(default_factory=dict)  # probe -> why it cannot


def print_layers(args: list[str], as_json: bool = False) -> None:
    """Build the config's model and data from ``args`` (``layers_args.layers_arguments``: names resolved), run the
    setup pass with every module hooked and print the table (JSON with ``as_json``)."""
    cli = LatentProbeCLI(args=args, run=False)
    config = cli.config_init
    probes = list(config.get("probes") or []) or default_probes()
    attach_references(probes, cli.model)  # a comparison's reference is checked as `probe` checks it
    spec = build_data_spec(datamodule=cli.datamodule, overrides=config.get("data_spec"))
    rows = layer_rows(cli.model, spec, probes)
    print(json.dumps([asdict(row) for row in rows], indent=1) if as_json else format_table(rows))


def default_probes() -> list[Probe]:
    """One of every registered probe with its default options (for a config that names none)."""
    probes = []
    for name in PROBES.list():
        try:
            probes.append(PROBES.get(name))
        except (ConfigError, TypeError):  # a probe that cannot be built without options has no column here
            continue
    return probes


def layer_rows(model: nn.Module, spec: DataSpec, probes: list[Probe]) -> list[LayerRow]:
    """Every module of ``model`` (in model order) with its calls and output in one setup pass, and its readers."""
    paths = module_paths(model)
    split = next((p.split for p in probes if p.reads_activations), DEFAULT_SPLIT)
    run = run_setup_pass(model, spec, split, paths)
    modules = dict(model.named_modules())
    rows = []
    for path in paths:
        calls = run.layers[path]
        readable = run.readable(path)
        reads = f"{calls.part} {calls.shapes[0]}".strip() if calls.shapes else ""
        row = LayerRow(path, type(modules[path]).__name__, calls.count, calls.output, reads if readable else "")
        for probe in probes:
            why = why_unreadable(probe, path, spec, model, run)
            if why:
                row.why_not[probe.name] = why
            else:
                row.probes.append(probe.name)
        rows.append(row)
    return rows


def why_unreadable(probe: Probe, path: str, spec: DataSpec, model: nn.Module, run: SetupPass) -> str:
    """Why ``probe`` could not read module ``path`` (its own setup checks, on a copy), or ``""`` when it could."""
    trial = copy.copy(probe)  # prepare sets the layers, parts and shapes: the configured probe stays as it was
    trial.layer_patterns, trial.layers = [path], [path]
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            prepare_probe(trial, spec, model, run)
    except Exception as error:  # noqa: BLE001  any refusal (a plugin's check may raise anything) means "cannot read"
        return str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    return ""


def format_table(rows: list[LayerRow]) -> str:
    """Aligned plain-text columns (a terminal or a pipe), then what the columns mean."""
    header = ("module", "type", "calls", "output", "reads", "probes")
    cells = [header] + [(r.module, r.type, str(r.calls), r.output or "-", r.reads or "-", ", ".join(r.probes) or "-")
                        for r in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header) - 1)]
    lines = ["  ".join([*(cell.ljust(width) for cell, width in zip(row, widths)), row[-1]]) for row in cells]
    return "\n".join([*lines, "", NOTE])
