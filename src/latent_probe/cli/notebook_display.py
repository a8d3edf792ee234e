"""The main pictures of a ``latent_probe.probe`` run, shown inline when it runs in a Jupyter kernel.

IPython is never imported here unless it is already loaded (a kernel has loaded it) or ``show=True`` asks for it, so a
plain ``python`` process stays as it was.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

from latent_probe.artifacts.run_files import DIRECTORY, FILE, list_run_dir, read_run_bytes, run_entry_kind
from latent_probe.artifacts.writer import probes_dir
from latent_probe.errors import ConfigError

MAX_PER_PROBE = 4  # the rest are in report.html
PICTURE_MAX_BYTES = 20_000_000


def in_kernel() -> bool:
    """Whether this process is a Jupyter kernel (IPython loaded and its shell has a kernel); IPython is not imported."""
    ipython = sys.modules.get("IPython")
    get_ipython = getattr(ipython, "get_ipython", None)
    shell = get_ipython() if callable(get_ipython) else None
    return shell is not None and getattr(shell, "kernel", None) is not None


def main_pictures(run: Path, moment: str, probes: Sequence[str]) -> list[tuple[str, list[Path]]]:
    """``[(probe, its PNGs at ``moment``, sorted by name)]`` in ``probes`` order; probes that wrote none are left out."""
    found = []
    for probe in probes:
        folder = probes_dir(run) / probe / moment
        if run_entry_kind(run, folder) != DIRECTORY:
            continue
        pictures = [path for path, kind in list_run_dir(run, folder) if kind == FILE and path.suffix.lower() == ".png"]
        if pictures:
            found.append((probe, pictures))
    return found


def show_pictures(run: Path, moment: str, probes: Sequence[str], per_probe: int = MAX_PER_PROBE) -> int:
    """Display up to ``per_probe`` PNGs of each probe, each under a one-line caption; return how many were shown."""
    try:
        from IPython.display import Image, display
    except ImportError:
        raise ConfigError("show=True needs IPython (pip install ipykernel)") from None
    shown = 0
    for probe, pictures in main_pictures(run, moment, probes):
        for index, picture in enumerate(pictures[:per_probe], start=1):
            more = f"; {len(pictures) - per_probe} more in report.html" if index == per_probe < len(pictures) else ""
            print(f"{probe} · {picture.stem.replace('_', ' ')} ({index}/{len(pictures)}{more})", flush=True)
            display(Image(data=read_run_bytes(run, picture, PICTURE_MAX_BYTES), format="png"))
            shown += 1
    return shown
