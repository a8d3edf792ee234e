"""Memory and file size of a probe firing on a big layer: default pooling against ``flatten`` (everything kept).

For the embedding dumper and the layer-transform recorder on torchvision's ResNet-18 ``layer1`` (64 x 28 x 28 =
50,176 values per 112 x 112 image) and on a Hugging Face ViT block (tokens (50, 192) = 9,600 values), each variant
runs in a fresh process through ``latent_probe.probe``: ``peak_rss_mib`` is the process's peak resident memory minus
what it held before probing, ``files_mib`` what the moment wrote (NPZ, PNG, GIF, projector files). Defaults:
``token_pooling: mean``, ``max_features: 1024``. ``bare_forward`` is the model alone over the same samples at the
probes' batch size (its working memory, which no probe option changes). Goals: with the defaults no firing writes more
than 50 MB, and the probe adds little beyond the model's own forward pass (``peak_default_vs_bare_forward``).
"""

from __future__ import annotations

import json
import subprocess
import sys

from _harness import parse_args, write_result

CHILD = r"""
import json, resource, sys, tempfile, pathlib
import torch, torchvision
from torchvision.datasets import FakeData
from torchvision.transforms import ToTensor
import latent_probe
torch.set_num_threads(1)
model_name, probe, variant, samples = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
torch.manual_seed(0)
if model_name == "resnet18":
    model, layer = torchvision.models.resnet18(num_classes=10), "backbone.layer1"
else:
    from transformers import ViTConfig, ViTForImageClassification
    config = ViTConfig(image_size=112, patch_size=16, num_channels=3, hidden_size=192, num_hidden_layers=2,
                       num_attention_heads=3, intermediate_size=384, num_labels=10)
    model, layer = ViTForImageClassification(config), "backbone.vit.layers.0"
data = FakeData(samples, (3, 112, 112), 10, transform=ToTensor(), random_offset=0)
options = {"layers": [layer], "max_samples": samples, "split": "val", "strict": True}
if variant == "flatten":
    options.update(token_pooling="flatten", max_features=None)
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
if probe == "bare":  # the model alone over the same samples, batch 256 as the probes' passes: its working memory
    with torch.no_grad():
        for x, _ in torch.utils.data.DataLoader(data, batch_size=256):
            model.eval()(x)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"peak_rss_mib": (peak - before) / 1024, "files_mib": 0.0, "stored": None, "shape": None}))
    sys.exit(0)
with tempfile.TemporaryDirectory() as folder:
    run = latent_probe.probe(model, data, probes=[{"class_path": probe, "init_args": options}], out=pathlib.Path(folder) / "size",
                             accelerator="cpu")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    files = sum(p.stat().st_size for p in (run / "probes").rglob("*") if p.is_file())
    manifest = next((run / "probes").rglob("manifest.json")).read_text()
    stored = json.loads(manifest)["layers"][-1]
print(json.dumps({"peak_rss_mib": (peak - before) / 1024, "files_mib": files / 2**20, "stored": stored.get("stored"),
                  "shape": stored.get("shape")}))
"""


def measure(model: str, probe: str, variant: str, samples: int) -> dict:
    """One firing in a fresh process."""
    done = subprocess.run([sys.executable, "-c", CHILD, model, probe, variant, str(samples)], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(done.stderr[-3000:])
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    """Measure every model x probe x variant and report."""
    args = parse_args(__doc__.splitlines()[0], lambda p: p.add_argument("--samples", type=int, default=500))
    figures, ratios = {}, {}
    for model in ("resnet18", "vit"):
        bare = measure(model, "bare", "default", args.samples)
        figures[f"{model}/bare_forward"] = bare
        print(f"{model:9} {'bare forward':23} {'':8} peak +{bare['peak_rss_mib']:7.1f} MiB")
        for probe in ("EmbeddingDumper", "LayerTransformRecorder"):
            for variant in ("default", "flatten"):
                result = measure(model, probe, variant, args.samples)
                figures[f"{model}/{probe}/{variant}"] = result
                print(f"{model:9} {probe:23} {variant:8} peak +{result['peak_rss_mib']:7.1f} MiB  files {result['files_mib']:7.1f} MiB"
                      f"  ({result['stored']})")
            default, flat = figures[f"{model}/{probe}/default"], figures[f"{model}/{probe}/flatten"]
            ratios[f"{model}/{probe}/files_flatten_vs_default"] = flat["files_mib"] / max(default["files_mib"], 1e-9)
            ratios[f"{model}/{probe}/peak_flatten_vs_default"] = flat["peak_rss_mib"] / max(default["peak_rss_mib"], 1e-9)
            ratios[f"{model}/{probe}/peak_default_vs_bare_forward"] = default["peak_rss_mib"] / max(bare["peak_rss_mib"], 1e-9)
    figures["samples"] = args.samples
    write_result("probe_size", figures, ratios, args.json)


if __name__ == "__main__":
    main()
