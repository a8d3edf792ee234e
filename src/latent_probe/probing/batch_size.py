"""How many rows one of a probe's own forward passes takes when the config does not say: fewer on a CPU.

Measured on 2 CPU cores (2026-11-23): the bottleneck CNN forwards 0.30 ms/sample in passes of 32-64 rows and
0.52 ms/sample in passes of 256; its single-pixel influence inputs took 0.6 s in chunks of 64 and 2.7 s in
chunks of 4,096. A CPU runs fastest on cache-sized activations; an accelerator wants large batches.
"""

from __future__ import annotations

import torch

CPU_BATCH = 64


def default_batch_size(requested: int | None, device: torch.device, accelerator_batch: int) -> int:
    """``requested``, else ``CPU_BATCH`` on a CPU and ``accelerator_batch`` on any other device."""
    if requested is not None:
        return requested
    return CPU_BATCH if torch.device(device).type == "cpu" else accelerator_batch
