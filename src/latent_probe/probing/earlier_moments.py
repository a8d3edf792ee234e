"""A probe's own earlier moments in its run folder, for probes that compare with what they stored before.

The folders are data: from this run, from the run it resumes, or from a run folder received from someone else. Only
complete ones (their ``.complete`` marker written last) inside the run are listed; a folder repeating another firing
(``same_firing_as``: the last epoch's ``fit_end``) adds nothing and is passed over; one never completed is warned
about by name and passed over, as is a probe folder that cannot be listed.
"""

from __future__ import annotations

import warnings
from pathlib import Path

from latent_probe.artifacts.layout import is_complete, probes_dir, read_manifest
from latent_probe.artifacts.run_files import DIRECTORY, MISSING, list_run_dir, run_entry_kind
from latent_probe.errors import ConfigError


def earlier_moments(run_dir: str | Path, probe_name: str, current: str) -> list[Path]:
    """The complete moment folders of ``probe_name`` in ``run_dir`` other than ``current``, sorted by name."""
    folder = probes_dir(run_dir) / probe_name
    kind = run_entry_kind(run_dir, folder)
    if kind == MISSING:
        return []
    try:
        entries = list_run_dir(run_dir, folder) if kind == DIRECTORY else []
    except ConfigError as error:
        entries, kind = [], str(error)
    if kind != DIRECTORY:
        warn(probe_name, f"{folder} {kind}: no earlier moment read")
    found = []
    for path, entry in entries:
        if entry != DIRECTORY or path.name == current:
            continue
        if not is_complete(path, run=run_dir):
            warn(probe_name, f"{path} was never completed (a run killed while writing it?); skipped")
        elif not read_manifest(path, run=run_dir).get("same_firing_as"):
            found.append(path)
    return found


def warn(probe_name: str, message: str) -> str:
    """One warning naming the probe (a problem with a file of the run folder, which is skipped); returns ``message``."""
    warnings.warn(f"probe {probe_name!r}: {message}", stacklevel=3)
    return message


__all__ = ["earlier_moments", "warn"]
