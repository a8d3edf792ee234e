"""A run folder's layout: where the probes' moments live, their manifest and completion marker (no torch, no numpy drawing).

The writer writes this layout, the report and a resumed run read it; both import it from here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from latent_probe.artifacts.run_files import FILE, MANIFEST_MAX_BYTES, read_run_json, run_entry_kind
from latent_probe.errors import ConfigError

COMPLETE_MARKER = ".complete"
MANIFEST_NAME = "manifest.json"


def probes_dir(log_dir: str | Path) -> Path:
    """``<log_dir>/probes/``: every probe's folder, each holding one folder per moment (the one place that says so)."""
    return Path(log_dir) / "probes"


def moment_dir(log_dir: str | Path, probe_name: str, moment: str) -> Path:
    """``<log_dir>/probes/<probe_name>/<moment>/`` (not created)."""
    return probes_dir(log_dir) / probe_name / moment


def is_complete(folder: str | Path, run: str | Path | None = None) -> bool:
    """Whether a moment folder was written to the end: its marker (written last) is a regular file inside ``run`` (default: ``folder``)."""
    return run_entry_kind(run or folder, Path(folder) / COMPLETE_MARKER) == FILE


def read_manifest(folder: str | Path, run: str | Path | None = None) -> dict[str, Any]:
    """A moment folder's manifest (empty when missing, unreadable, or not a bounded regular file inside ``run``, default ``folder``)."""
    try:
        manifest = read_run_json(run or folder, Path(folder) / MANIFEST_NAME, MANIFEST_MAX_BYTES)
    except ConfigError:
        return {}
    return manifest if isinstance(manifest, dict) else {}


__all__ = ["COMPLETE_MARKER", "MANIFEST_NAME", "is_complete", "moment_dir", "probes_dir", "read_manifest"]
