"""Peak memory of an embedding dump: 60,000 x 512 float32 activations through the EmbeddingDumper's writer.

Runs in a fresh subprocess so that the peak resident set size (``ru_maxrss``) belongs to this dump
alone. ``ratios.peak_rss_vs_array`` = (peak RSS - RSS before the activations existed) / the array's
bytes: 1.0 would mean no copy beyond the array itself. The dump writes ``embeddings.npz`` and the
projector files, as the dumper does (pictures, sprites and k-means metrics off: they scale with
their own settings, not with this array).
"""

from __future__ import annotations

import json
import subprocess
import sys

from _harness import parse_args, summary, write_result

ROWS, DIM = 60_000, 512

CHILD = """
import json, resource, sys, tempfile
import numpy as np
from latent_probe.probes.embedding import EmbeddingDumper, EmbeddingResult
from latent_probe.probing import MomentWriter
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
rows, dim = int(sys.argv[1]), int(sys.argv[2])
activations = np.random.default_rng(0).standard_normal((rows, dim), dtype=np.float32)
labels = np.arange(rows) % 10
result = EmbeddingResult(index=np.arange(rows), label=labels, embeddings={"layer": activations}, images=None,
                         inputs=np.zeros((rows, 1), np.float32), class_names=[str(i) for i in range(10)])
probe = EmbeddingDumper(layers=["layer"], pictures=False, metrics=False, sprites=False)
with tempfile.TemporaryDirectory() as folder:
    probe.write(result, MomentWriter(folder, "embedding_dumper", "fit_end", 0))
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"before_kib": before, "peak_kib": peak, "array_bytes": activations.nbytes}))
"""


def measure_once() -> dict:
    """One dump in a fresh process; returns its RSS figures."""
    done = subprocess.run([sys.executable, "-c", CHILD, str(ROWS), str(DIM)], capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    """Measure and report."""
    args = parse_args(__doc__.splitlines()[0])
    runs = [measure_once() for _ in range(max(1, min(args.repeat, 3)))]
    extra = [(r["peak_kib"] - r["before_kib"]) * 1024 for r in runs]
    array_bytes = runs[0]["array_bytes"]
    figures = {"peak_minus_baseline_bytes": summary(extra), "array_bytes": array_bytes, "shape": [ROWS, DIM]}
    ratios = {"peak_rss_vs_array": summary([e / array_bytes for e in extra])["median"]}
    print(f"array {array_bytes / 2**20:.0f} MiB; peak RSS growth {figures['peak_minus_baseline_bytes']['median'] / 2**20:.0f} MiB; "
          f"ratio {ratios['peak_rss_vs_array']:.2f}")
    write_result("memory", figures, ratios, args.json)


if __name__ == "__main__":
    main()
