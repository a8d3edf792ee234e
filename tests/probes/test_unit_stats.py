"""UnitStats, the streaming probe: per-unit statistics of a whole split, equal to a float64 NumPy reference, in the
same forward pass as the probes that gather a sample, and the same on 1 and 2 processes."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from helpers.cka_reference import digits_val_layers, reference_minibatch_cka
from helpers.probe_fits import fit_with_probes
from helpers.probe_models import DIGITS, TinyDigitNet
from helpers.runs import fit_checkpoint, probe_on_one_and_two_processes

from latent_probe.data import DigitsDataModule
from latent_probe.probes import EmbeddingDumper, UnitStats
from latent_probe.probing.sharding import visiting_order

LAYERS = ["hidden_act", "bottleneck_act"]


def reference(model: TinyDigitNet, data: DigitsDataModule) -> dict[str, dict[str, np.ndarray]]:
    """Each layer's per-unit mean, variance and maximum over the whole val split, in float64 NumPy."""
    dataset = data.dataset("val")
    x = torch.stack([dataset[i][0] for i in range(len(dataset))]).flatten(1).double().numpy()
    weights = {name: p.detach().double().numpy() for name, p in model.named_parameters()}
    hidden = np.maximum(x @ weights["hidden.weight"].T + weights["hidden.bias"], 0)
    bottleneck = np.tanh(hidden @ weights["bottleneck.weight"].T + weights["bottleneck.bias"])
    return {layer: {"mean": v.mean(0), "var": v.var(0), "max": v.max(0)}
            for layer, v in (("hidden_act", hidden), ("bottleneck_act", bottleneck))}


def test_statistics_of_the_whole_split_equal_a_float64_reference(tmp_path):
    model, probes = fit_with_probes(tmp_path, [UnitStats(layers=LAYERS, strict=True)])
    expected = reference(model.double(), DigitsDataModule())
    with np.load(probes / "unit_stats" / "fit_end" / "unit_stats.npz") as npz:
        for layer, stats in expected.items():
            for key, values in stats.items():
                np.testing.assert_allclose(npz[f"{layer}/{key}"], values, rtol=1e-5, atol=1e-6, err_msg=f"{layer}/{key}")
    summary = json.loads((probes / "unit_stats" / "fit_end" / "stats.json").read_text())
    assert summary["n_samples"] == len(DigitsDataModule().dataset("val"))
    dead = expected["hidden_act"]["max"] <= 0
    assert summary["layers"]["hidden_act"]["dead_units"] == int(dead.sum())
    assert summary["layers"]["hidden_act"]["dead_share"] == pytest.approx(dead.mean())


def test_a_stream_and_a_sample_share_one_pass(tmp_path):
    dumper = EmbeddingDumper(layers=["bottleneck_act"], split="val", max_samples=50, projector=False, pictures=False, strict=True)
    model, probes = fit_with_probes(tmp_path, [UnitStats(layers=LAYERS, strict=True), dumper])
    size = len(DigitsDataModule().dataset("val"))
    assert sum(model.probe_rows[1:]) == size, "one pass over the whole split feeds both ([0] is the setup pass)"
    with np.load(probes / "embedding_dumper" / "fit_end" / "embeddings.npz") as npz:
        assert len(npz["index"]) == 50


@pytest.mark.slow
def test_one_and_two_processes_give_the_same_statistics(tmp_path):
    """The streaming probes (UnitStats, LayerSimilarity's CKA, ModelSimilarity's CKA across the model and its twin at the
    initial weights) in one pass, on 1 and 2 DDP processes; and RepresentationDrift, whose pass at the initial weights and
    whose reading of the run folder are shared the same way. The CKA estimator's groups are each process's consecutive
    samples of the seeded random order, so it is checked against a reference of those groups."""
    estimator = {"layers": ["hidden", *LAYERS, "classifier"], "method": "minibatch", "group_size": 32, "name": "estimate"}
    probes = [{"class_path": "UnitStats", "init_args": {"layers": LAYERS}},
              {"class_path": "LayerSimilarity", "init_args": {"layers": ["hidden", *LAYERS, "classifier"]}},
              {"class_path": "RepresentationDrift", "init_args": {"layers": LAYERS, "every_n_epochs": 0, "moments": []}},
              {"class_path": "ModelSimilarity", "init_args": {"layers": ["hidden", *LAYERS], "reference": "initial"}},
              {"class_path": "LayerSimilarity", "init_args": estimator}]
    probe = ["--probes", json.dumps(probes)]
    checkpoint = fit_checkpoint(tmp_path, "digits", *DIGITS, *probe)
    # Named apart, so that each run computes its own initial features (none stored before it) on its own processes.
    one, two = probe_on_one_and_two_processes(tmp_path, "digits", *DIGITS, *probe, "--ckpt_path", checkpoint,
                                              each=(["--probes.2.name=drift_one"], ["--probes.2.name=drift_two"]))
    assert_same_drift(one / "drift_one", two / "drift_two")
    assert one == two, "both runs probe the checkpoint's run: 1 process writes moment probe, then 2 processes probe-2"
    for name, file in (("unit_stats", "unit_stats.npz"), ("layer_similarity", "similarity.npz"),
                       ("model_similarity", "similarity.npz")):
        with np.load(one / name / "probe" / file) as first, np.load(two / name / "probe-2" / file) as second:
            assert sorted(first.files) == sorted(second.files)
            for key in first.files:
                if first[key].dtype.kind in "fc":
                    np.testing.assert_allclose(second[key], first[key], rtol=0, atol=1e-6, err_msg=f"{name}/{key}")
                else:
                    assert (second[key] == first[key]).all(), f"{name}/{key}"
    counts = [json.loads((one / "unit_stats" / moment / "stats.json").read_text())["n_samples"] for moment in ("probe", "probe-2")]
    assert counts[0] == counts[1]
    references = [json.loads((one / "model_similarity" / m / "manifest.json").read_text()) for m in ("probe", "probe-2")]
    assert references[0]["initial_weights"]["digest"] == references[1]["initial_weights"]["digest"]
    model = TinyDigitNet()
    model.load_state_dict(torch.load(checkpoint, weights_only=True)["state_dict"])
    outputs = digits_val_layers(model)
    # 180 samples: one process, 5 x 32 + 20 left out; two, 2 x 90 = 2 x (2 x 32 + 26).
    for moment, processes, groups in (("probe", 1, 5), ("probe-2", 2, 4)):
        summary = json.loads((one / "estimate" / moment / "similarity.json").read_text())
        reference = reference_minibatch_cka([outputs[layer] for layer in estimator["layers"]], 32, processes,
                                            order=visiting_order(180, None, 0, True))
        np.testing.assert_allclose(np.array(summary["cka"], dtype=float), reference, rtol=0, atol=1e-5)
        assert summary["groups"] == groups and summary["n_samples"] == 180


def assert_same_drift(one: Path, two: Path) -> None:
    """The only moment of two RepresentationDrift folders: the same stored features and CKA matrix."""
    (first,), (second,) = (list(folder.iterdir()) for folder in (one, two))
    for name in ("features.npz", "initial_features.npz", "drift.npz"):
        with np.load(first / name) as a, np.load(second / name) as b:
            assert sorted(a.files) == sorted(b.files)
            for key in a.files:
                # float16 values lie in [-1, 1]: a float32 rounding apart becomes at most one unit in the last place
                if a[key].dtype.kind == "f":
                    atol = 2.0**-10 if a[key].dtype == np.float16 else 1e-6
                    np.testing.assert_allclose(b[key].astype(np.float64), a[key], rtol=1e-5, atol=atol, err_msg=f"{name}/{key}")
                elif key != "moments":  # the moments are named by each run (probe, probe-2)
                    assert (a[key] == b[key]).all(), f"{name}/{key}"
    manifest = json.loads((second / "manifest.json").read_text())
    assert manifest["initial_weights"]["digest"] == json.loads((first / "manifest.json").read_text())["initial_weights"]["digest"]
