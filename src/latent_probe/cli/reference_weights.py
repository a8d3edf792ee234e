"""The reference of a comparison (``latent-probe compare --reference``, ``ModelSimilarity``'s ``reference``): a twin of the
configured model with the reference's weights, read as data and checked against the architecture before anything runs.

``reference`` is one of:

- ``initial``: the engine's initial weights (the probe loads them itself when it fires; nothing to read here);
- a run folder: its ``checkpoints/last.ckpt``, a regular file inside the run (a link leading out is refused);
- a Lightning checkpoint (``.ckpt``): its ``state_dict``, read with ``weights_only=True`` and checked key by key, shape by
  shape and for NaN (``checkpoints.check_checkpoint_fits``);
- a weights file (``.pt``, ``.pth``, ``.bin``, ``.safetensors``, ``.npz``) as ``--weights`` reads it: a backbone's own
  file loads into ``Classifier`` (the key prefix is found), every key must fit.

Nothing in the file is unpickled, imported or called; what was loaded is recorded (the file, its sha256, the weights'
digest) in the moment's manifest. Every problem is one ``ConfigError`` naming the reference and the valid forms.
"""

from __future__ import annotations

import hashlib
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from torch import nn

from latent_probe.artifacts.run_files import FILE, MISSING, checked_run_path, run_entry_kind
from latent_probe.cli.checkpoints import check_checkpoint_fits, read_checkpoint
from latent_probe.errors import ConfigError
from latent_probe.models.regular_files import open_regular_file
from latent_probe.models.weights import FORMATS, load_weights
from latent_probe.probes.model_similarity import REFERENCE_FORMS, ModelSimilarity
from latent_probe.probing import Probe
from latent_probe.probing.initial_weights import INITIAL, model_tensors, weights_digest
from latent_probe.probing.twin import twin

RUN_CHECKPOINT = Path("checkpoints") / "last.ckpt"
CHUNK = 1 << 20


def attach_references(probes: Sequence[Probe], model: nn.Module) -> None:
    """Give each ``ModelSimilarity`` of ``probes`` whose reference is a file or run folder its twin of ``model``."""
    for probe in probes:
        if isinstance(probe, ModelSimilarity) and probe.reference != INITIAL:
            probe.use_reference(*reference_twin(model, probe.reference))


def reference_twin(model: nn.Module, reference: str) -> tuple[nn.Module, dict[str, Any]]:
    """A twin of ``model`` holding the weights ``reference`` names, and what the manifest records of them."""
    path = Path(reference)
    if not path.exists() and not path.is_symlink():
        raise ConfigError(f"reference {reference!r} not found; give {REFERENCE_FORMS}")
    kind = "checkpoint"
    if path.is_dir():
        path, kind = run_checkpoint(path, reference), "run folder"
    elif path.suffix.lower() not in FORMATS:
        raise ConfigError(f"reference {reference!r} is neither a run folder nor a file named as a checkpoint or weights file; "
                          f"give {REFERENCE_FORMS}")
    try:
        digest = file_sha256(path)
        if kind == "run folder" or path.suffix.lower() == ".ckpt":
            copied, about = checkpoint_twin(model, path)
        else:
            copied, about, kind = weights_twin(model, path), {}, "weights file"
    except ConfigError as error:
        raise ConfigError(f"reference {reference!r}: {error}") from None
    return copied, {"kind": kind, "file": str(path), "sha256": digest, **about,
                    "weights_digest": weights_digest(model_tensors(copied))}


def run_checkpoint(run: Path, reference: str) -> Path:
    """The run folder's ``checkpoints/last.ckpt``, a regular file inside it; else one line saying what is there."""
    path = run / RUN_CHECKPOINT
    found = run_entry_kind(run, path)
    if found == MISSING:
        raise ConfigError(f"reference {reference!r} is a folder without {RUN_CHECKPOINT} (not a run that saved a checkpoint); "
                          f"give {REFERENCE_FORMS}")
    if found != FILE:
        raise ConfigError(f"reference {reference!r}: {str(path)!r} {found}; give {REFERENCE_FORMS}")
    checked_run_path(run, path, FILE)
    return path


def file_sha256(path: Path) -> str:
    """``sha256:<hex>`` of a regular file's bytes (refused by name when it is not a regular file)."""
    digest = hashlib.sha256()
    with open_regular_file(path, "file") as file:
        for chunk in iter(lambda: file.read(CHUNK), b""):
            digest.update(chunk)
    return f"sha256:{digest.hexdigest()}"


def checkpoint_twin(model: nn.Module, path: Path) -> tuple[nn.Module, dict[str, Any]]:
    """A twin with a Lightning checkpoint's ``state_dict`` (every key, shape and value checked), and its epoch and step."""
    checkpoint = check_checkpoint_fits(model, str(path), read_checkpoint(str(path)))
    copied = twin(model)
    copied.load_state_dict(checkpoint["state_dict"])
    return copied, {key: checkpoint[key] for key in ("epoch", "global_step") if type(checkpoint.get(key)) is int}


def weights_twin(model: nn.Module, path: Path) -> nn.Module:
    """A twin with a weights file's tensors, as ``--weights`` loads them (prefix found, every key must fit)."""
    copied = twin(model)
    kept = load_weights(copied, path, None, True)["kept_initial"]
    if kept:  # a backbone's own file has none of the wrapper's layers (an input adapter): they keep the model's values
        warnings.warn(f"reference {str(path)!r} holds the backbone only; {kept[:4]} ({len(kept)}) keep the configured model's "
                      "values", stacklevel=2)
    return copied
