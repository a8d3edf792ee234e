"""Shared benchmark plumbing: paired timings, the JSON result form, and the environment record.

Every benchmark prints a short human summary and, with ``--json PATH``, writes one object:
``{"benchmark": name, "figures": {...}, "ratios": {...}, "env": {...}}``. ``figures`` hold medians
with min, max and n; ``ratios`` are paired ratios measured in the same run (this machine is noisy:
never compare absolute times across runs).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))  # run from a checkout without installing


def parse_args(description: str, extra: Callable[[argparse.ArgumentParser], None] | None = None) -> argparse.Namespace:
    """``--json PATH`` and ``--repeat N`` plus the benchmark's own options."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--json", type=Path, default=None, help="write the result object to this file")
    parser.add_argument("--repeat", type=int, default=5, help="timed repetitions of each variant")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch intra-op threads (1: paired timings stay stable on a shared, loaded machine)")
    if extra:
        extra(parser)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    return args


def summary(values: list[float]) -> dict:
    """Median, min, max and count of a list of measurements."""
    return {"median": statistics.median(values), "min": min(values), "max": max(values), "n": len(values)}


def time_once(fn: Callable[[], object]) -> float:
    """Wall-clock seconds of one call."""
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def paired_times(variants: dict[str, Callable[[], object]], repeat: int, warmup: int = 1) -> dict[str, list[float]]:
    """Time each variant ``repeat`` times, interleaved round by round so drifts in load hit all alike."""
    for fn in variants.values():
        for _ in range(warmup):
            fn()
    times: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(repeat):
        for name, fn in variants.items():
            times[name].append(time_once(fn))
    return times


def paired_ratio(numerator: list[float], denominator: list[float]) -> dict:
    """Summary of the per-round ratios ``numerator[i] / denominator[i]``."""
    return summary([a / b for a, b in zip(numerator, denominator)])


def env_info() -> dict:
    """Machine and library versions the figures were measured with."""
    return {
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "machine": platform.machine(),
        "platform": platform.platform(),
    }


def write_result(name: str, figures: dict, ratios: dict, path: Path | None) -> dict:
    """Print the result object and write it to ``path`` when given."""
    result = {"benchmark": name, "figures": figures, "ratios": ratios, "env": env_info()}
    text = json.dumps(result, indent=2, sort_keys=True)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text + "\n")
        print(f"wrote {path}")
    return result
