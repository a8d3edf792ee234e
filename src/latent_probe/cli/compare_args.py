"""``latent-probe compare``: ``latent-probe probe`` running one ``ModelSimilarity`` probe, its moment named ``compare``.

    latent-probe compare --config A.yaml --ckpt_path A.ckpt --reference B [--layers LIST] [--split val] [options of probe]

is ``latent-probe probe --config A.yaml --ckpt_path A.ckpt --probes '[{"class_path": "ModelSimilarity", "init_args":
{"reference": "B", "layers": LIST, ...}}]'`` writing moment ``compare`` (then ``compare-2``, ...) into the checkpoint's run:
the config's own probes do not run. ``--reference`` and ``ModelSimilarity``'s other options (``--layers``, ``--split``,
``--max_samples``, ...) are taken out here, before Lightning is imported; every other option is ``probe``'s.
"""

from __future__ import annotations

import json
from typing import Any

from latent_probe.cli.config_files import option_yaml
from latent_probe.cli.known_options import KNOWN_OPTIONS
from latent_probe.cli.names import split_option
from latent_probe.errors import ConfigError

COMPARE_MOMENT = "compare"
PROBE_CLASS = "ModelSimilarity"
# Its options, less those that choose when it fires: a post-hoc run fires once.
OPTIONS = KNOWN_OPTIONS[PROBE_CLASS] - {"every_n_epochs", "moments"}
USAGE = ("usage: latent-probe compare --config A.yaml --ckpt_path A.ckpt --reference B [--layers LIST] [--split val] "
         "[options of probe]")
REFERENCE_HELP = ("B: initial (the model as built), a Lightning checkpoint (.ckpt), a run folder (runs/<experiment>/version_<n>) "
                  "or a weights file (.pt, .pth, .bin, .safetensors, .npz)")
HELP = (f"{USAGE}\n\nCompare the model (A: --config, its weights from --ckpt_path or --weights) with a reference of the same "
        f"architecture: {REFERENCE_HELP}. Linear CKA of each chosen layer of A with each of B (--layers, default: the "
        "activation modules) over the whole --split, both models in one pass; written into A's run as moment compare "
        "(similarity.npz, .json, .png, TensorBoard, report.html). Other options: " + ", ".join(f"--{key}" for key in sorted(OPTIONS)) +
        "; and those of `latent-probe probe` (the config's own probes do not run).")


def compare_argv(args: list[str]) -> list[str]:
    """The ``probe`` command line that ``compare ARGS`` stands for; a missing ``--reference`` is one line."""
    init_args: dict[str, Any] = {}
    rest, i = [], 0
    while i < len(args):
        key, value, at = split_option(args, i)
        name = key[2:] if key.startswith("--") else ""
        if name == "probes":
            raise ConfigError(f"compare runs one {PROBE_CLASS} probe: give its options as --layers, --split, ...; "
                              "`latent-probe probe --probes ...` runs any others")
        if name not in OPTIONS:
            rest.append(args[i])
            i += 1
            continue
        if value is None:
            raise ConfigError(f"{key} needs a value")
        init_args[name] = value if name == "reference" else option_yaml(key, value)  # a reference is a path, kept as text
        if name == "layers" and isinstance(init_args[name], str):  # --layers hidden: one layer (or pattern)
            init_args[name] = [init_args[name]]
        i = at + 1
    if "reference" not in init_args:
        raise ConfigError(f"compare needs --reference {REFERENCE_HELP}. {USAGE}")
    return ["probe", *rest, f"--probes={json.dumps([{'class_path': PROBE_CLASS, 'init_args': init_args}], ensure_ascii=False)}"]
