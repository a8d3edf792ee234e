"""Weights from a file for any model: a plain ``state_dict`` (``.pt``/``.pth``/``.bin``, read with ``weights_only=True``),
``.safetensors`` or ``.npz`` (no pickle); the key prefix is found (a backbone saved by torchvision, timm or Hugging Face
loads into ``Classifier``, whose keys start with ``backbone.``), or given as ``from=to``; every mismatch is one line."""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path

import numpy as np
import safetensors.torch
import torch
from torch import nn

from latent_probe.errors import ConfigError, require_choice
from latent_probe.models.archives import SizeLimit, check_expansion, file_limit, model_limit
from latent_probe.models.regular_files import open_regular_file

FORMATS = (".pt", ".pth", ".bin", ".ckpt", ".safetensors", ".npz")
WRAPPER_KEYS = ("state_dict", "model", "model_state_dict", "module")  # where checkpoints often keep the weights


def read_tensors(path: str | os.PathLike, limit: SizeLimit | None = None) -> dict[str, torch.Tensor]:
    """Every tensor of a weights file by key, none over ``limit`` bytes in all (default: ``file_limit``); nothing is
    unpickled, and a file that is missing, not a regular file, a decompression bomb or unreadable raises ``ConfigError``."""
    suffix = Path(path).suffix.lower()
    require_choice("weights file format", suffix or str(path), FORMATS)
    what = f"weights file {str(path)!r}"
    with open_regular_file(path, "weights file") as file:
        check_expansion(file, suffix, what, limit or file_limit(os.fstat(file.fileno()).st_size))
        try:
            if suffix == ".safetensors":
                return safetensors.torch.load(file.read())
            if suffix == ".npz":
                with np.load(file, allow_pickle=False) as archive:
                    return {key: torch.from_numpy(np.array(archive[key])) for key in archive.files}
            loaded = torch.load(file, map_location="cpu", weights_only=True)
        except Exception as error:  # noqa: BLE001  pickle, zip, safetensors and torch errors all mean "not a usable file"
            raise ConfigError(f"cannot read {what}: {why_unreadable(error)}") from None
    return _tensors_in(loaded, str(path))


def why_unreadable(error: BaseException) -> str:
    """A short reason for a failed ``torch.load`` (torch's own messages run to a paragraph)."""
    text = str(error).strip()
    if "Weights only load failed" in text or "Unsupported global" in text:
        return "it holds pickled Python objects beyond tensors, and loading those would run code; latent-probe never unpickles"
    if "central directory" in text or "zip archive" in text or isinstance(error, EOFError) or "Ran out of input" in text:
        return "the file is truncated, empty or not a torch checkpoint"
    return (text.splitlines()[0] if text else type(error).__name__)[:200]


def _tensors_in(loaded: object, source: str) -> dict[str, torch.Tensor]:
    if isinstance(loaded, dict):
        inner = next((loaded[k] for k in WRAPPER_KEYS if isinstance(loaded.get(k), dict)), None)
        tensors = inner if inner is not None and not any(isinstance(v, torch.Tensor) for v in loaded.values()) else loaded
        odd = odd_entries(tensors)
        if tensors and not odd:
            return dict(tensors)
        if any(isinstance(v, torch.Tensor) for v in tensors.values()):
            raise ConfigError(f"weights file {source!r}: {odd_text(odd)}")
    raise ConfigError(f"weights file {source!r} holds no state_dict (a dict of named tensors)")


def odd_entries(state: dict) -> list[str]:
    """The entries of a state_dict that are not a tensor under a string key, described (``'w' (str)``)."""
    return [f"{key!r} ({type(value).__name__})" for key, value in state.items()
            if not isinstance(key, str) or not isinstance(value, torch.Tensor)]


def odd_text(odd: list[str]) -> str:
    """``state_dict entries that are not named tensors: [...] (n)``, for ``odd_entries``."""
    return f"state_dict entries that are not named tensors: {', '.join(odd[:4])} ({len(odd)})"


def shape_mismatches(state: dict[str, torch.Tensor], expected: dict[str, torch.Tensor]) -> list[str]:
    """``key (file shape) vs (model shape)`` for every key both hold with different shapes, sorted."""
    return sorted(f"{key} {tuple(state[key].shape)} vs {tuple(expected[key].shape)}" for key in set(state) & set(expected)
                  if state[key].shape != expected[key].shape)


def check_finite(state: dict[str, torch.Tensor], expected: dict[str, torch.Tensor], what: str) -> None:
    """Raise ``ConfigError`` naming the tensors holding NaN or inf where the model's own are finite (a mask of -inf is)."""
    bad = [key for key, value in state.items() if (value.is_floating_point() or value.is_complex())
           and not bool(torch.isfinite(value).all()) and (key not in expected or bool(torch.isfinite(expected[key]).all()))]
    if bad:
        raise ConfigError(f"{what} holds NaN or infinite values in {bad[:4]} ({len(bad)} of {len(state)} tensors): "
                          "a model of NaN gives silently wrong probes. HINT: use weights saved before training diverged")


def parse_prefix(prefix: str) -> tuple[str, str]:
    """``"from=to"`` -> ``("from", "to")``; a plain ``"to"`` adds it to every key (``("", "to")``)."""
    old, sep, new = prefix.partition("=")
    return (old, new) if sep else ("", prefix)


def renamed(keys: list[str], old: str, new: str) -> dict[str, str]:
    """``{file key: model key}`` with the leading ``old`` replaced by ``new`` (keys without ``old`` are kept)."""
    return {key: new + key[len(old):] if key.startswith(old) else key for key in keys}


def find_prefix(file_keys: list[str], model_keys: list[str]) -> tuple[str, str]:
    """The ``(old, new)`` prefix swap under which most file keys name model keys (``("", "")`` when they already do)."""
    wanted = set(model_keys)
    candidates: Counter = Counter({("", ""): 0})
    for key in file_keys[:50]:
        for model_key in model_keys:
            if model_key.endswith(key):
                candidates[("", model_key[: len(model_key) - len(key)])] += 1
            elif key.endswith(model_key):
                candidates[(key[: len(key) - len(model_key)], "")] += 1
    def hits(swap: tuple[str, str]) -> int:
        return sum(target in wanted for target in renamed(file_keys, *swap).values())

    return max(candidates, key=lambda swap: (hits(swap), swap == ("", "")))


def common_scope(keys: list[str]) -> str:
    """``"backbone."`` when every key starts with that one first component, else ``""``."""
    firsts = {key.split(".", 1)[0] for key in keys if "." in key}
    return f"{firsts.pop()}." if len(firsts) == 1 and all("." in key for key in keys) else ""


def load_weights(model: nn.Module, path: str | os.PathLike, prefix: str | None = None, strict: bool = True) -> dict[str, list[str]]:
    """Load a weights file into ``model`` (prefix found or given as ``from=to``); returns what was left out.

    With ``strict`` any missing or unexpected key or different shape is a ``ConfigError`` listing the first of
    each; without it the keys that fit are loaded and the others reported. When every key of the file lands under
    one module (``backbone.``), the model's keys outside it keep their values (``kept_initial``, reported).
    """
    expected = model.state_dict()
    tensors = read_tensors(path, model_limit(expected.values(), type(model).__name__))
    swap = parse_prefix(prefix) if prefix is not None else find_prefix(list(tensors), list(expected))
    mapping = renamed(list(tensors), *swap)
    state = {mapping[key]: value for key, value in tensors.items()}
    missing = sorted(set(expected) - set(state))
    # A file of the backbone alone (its keys all land under `backbone.`) cannot hold the wrapper's own layers (an
    # input adapter): those keep their initial values and are reported, not refused.
    scope = common_scope(list(state))
    own = [key for key in missing if scope and not key.startswith(scope)]
    missing = [key for key in missing if key not in own]
    unexpected = sorted(set(state) - set(expected))
    shapes = shape_mismatches(state, expected)
    if strict and (missing or unexpected or shapes):
        how = f" (keys renamed {swap[0]!r} -> {swap[1]!r})" if swap != ("", "") else ""
        raise ConfigError(
            f"weights file {str(path)!r} does not fit {type(model).__name__}{how}: missing {missing[:4]} ({len(missing)}), "
            f"unexpected {unexpected[:4]} ({len(unexpected)}), shapes differ {shapes[:3]}. "
            "HINT: set weights_prefix (from=to), or weights_strict: false to load what fits"
        )
    fitting = {key: value for key, value in state.items() if key in expected and value.shape == expected[key].shape}
    check_finite(fitting, expected, f"weights file {str(path)!r}")  # even without strict: NaN is never "what fits"
    model.load_state_dict(fitting, strict=False)
    return {"missing": missing, "unexpected": unexpected, "shape_mismatch": shapes, "kept_initial": own}
