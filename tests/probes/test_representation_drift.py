"""RepresentationDrift: each layer now against itself at every earlier moment and at the initial weights. The stored
features equal plain forward passes of each epoch's checkpoint, the matrix equals Kornblith's tr(KHLH) in float64 on
them, identical weights give 1, a run that dies and resumes gives the matrices of one that did not, earlier moments are
read as data (a broken file is skipped with a warning naming it), and the picture and curves land in TensorBoard."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import pytorch_lightning as pl
import torch
from helpers.cka_reference import digits_layers, reference_cka
from helpers.probe_fits import CountingNet, fit_with_probes
from helpers.runs import latest_run
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from latent_probe.analysis.cka_against import CkaAgainst
from latent_probe.analysis.compact_features import compact, expanded
from latent_probe.probes import RepresentationDrift

LAYERS = ["hidden", "hidden_act", "bottleneck_act"]
CONFIG = ["--config", str(Path(__file__).with_name("representation_drift.yaml"))]
STORAGE_ATOL = 1e-6  # these narrow layers are stored in float32: CKA within 5e-8 of float64 forward passes (measured)


def drift(folder: Path) -> dict[str, np.ndarray]:
    """A moment's ``drift.npz``."""
    with np.load(folder / "drift.npz") as npz:
        return {key: npz[key] for key in npz.files}


def stored(path: Path) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """A features file's sample index and each layer's features (float64, means added back)."""
    with np.load(path) as npz:
        layers = list(npz["layers"])
        return npz["index"], {layer: expanded(npz[f"values:{i}"], npz[f"mean:{i}"], npz[f"scale:{i}"])
                              for i, layer in enumerate(layers)}


def test_the_matrix_equals_tr_khlh_on_forward_passes_of_each_epochs_checkpoint(tmp_path):
    torch.manual_seed(0)
    built = CountingNet().state_dict()  # fit_with_probes seeds 0 and builds the same net
    saves = pl.callbacks.ModelCheckpoint(tmp_path / "ckpt", filename="{epoch}", save_top_k=-1, save_on_train_epoch_end=True)
    _, probes = fit_with_probes(tmp_path, [RepresentationDrift(layers=LAYERS, strict=True)], epochs=3, callbacks=(saves,))
    folder = probes / "representation_drift"
    states = [torch.load(tmp_path / "ckpt" / f"epoch={e}.ckpt", weights_only=True)["state_dict"] for e in range(3)]
    index, initial = stored(folder / "epoch=0000" / "initial_features.npz")
    forward = [digits_layers(state, index) for state in [built, *states]]  # the initial weights, then each epoch
    for e, moment in enumerate(["epoch=0000", "epoch=0001", "epoch=0002"]):
        features = stored(folder / moment / "features.npz")[1]
        for layer in LAYERS:  # float16 (float32 for these small layers) keeps each value to 2^-12 of its column's deviation
            for kept, exact in ((features[layer], forward[e + 1][layer]), (initial[layer], forward[0][layer])):
                deviation = np.abs(exact - exact.mean(0)).max(0)
                assert (np.abs(kept - exact) <= deviation * 2.0**-11 + 1e-5).all(), f"{moment} {layer}"
    result = drift(folder / "epoch=0002")
    assert list(result["moments"]) == ["initial", "epoch=0000", "epoch=0001", "epoch=0002"]
    assert list(result["layers"]) == LAYERS and int(result["n_samples"]) == len(index)
    kept = [initial, *(stored(folder / f"epoch={e:04d}" / "features.npz")[1] for e in range(3))]
    on_stored = np.array([[reference_cka(kept[3][layer], kept[e][layer]) for e in range(4)] for layer in LAYERS])
    np.testing.assert_allclose(result["cka"], on_stored, rtol=0, atol=1e-6)  # on what is stored (float32 products)
    expected = np.array([[reference_cka(forward[3][layer], forward[e][layer]) for e in range(4)] for layer in LAYERS])
    np.testing.assert_allclose(result["cka"], expected, rtol=0, atol=STORAGE_ATOL)
    assert (result["cka"][:, 0] < 0.99).all(), "training moved every layer away from its initial state"
    np.testing.assert_array_equal(drift(folder / "fit_end")["cka"], result["cka"])  # the same firing, not recomputed
    assert not (folder / "fit_end" / "features.npz").exists(), "a moment repeating another stores no features again"
    manifests = [json.loads((folder / m / "manifest.json").read_text()) for m in ("epoch=0000", "epoch=0001")]
    assert "initial_weights" in manifests[0] and "initial_weights" not in manifests[1], "read from disk after the first"
    assert json.loads((folder / "epoch=0002" / "drift.json").read_text())["initial_from"] == "epoch=0000"


def test_identical_representations_give_one_and_cka_is_exact():
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(300, 20, generator=generator, dtype=torch.float64) @ torch.randn(20, 40, generator=generator, dtype=torch.float64)
    y = torch.tanh(x[:, :12]) + 0.3 * torch.randn(300, 12, generator=generator, dtype=torch.float64)
    rotation = torch.linalg.qr(torch.randn(40, 40, generator=generator, dtype=torch.float64))[0]
    against = CkaAgainst(x)
    assert abs(against(x) - 1) < 1e-12 and abs(against(3.0 * x @ rotation + 5.0) - 1) < 1e-12
    assert abs(against(y) - reference_cka(x.numpy(), y.numpy())) < 1e-12



@pytest.mark.parametrize(("width", "dtype", "bound"), [(2, np.float32, 1e-8), (2_000, np.float16, 1e-5)])
def test_what_storage_adds_to_cka(width, dtype, bound):
    generator = torch.Generator().manual_seed(0)
    z = torch.randn(1000, 8, generator=generator, dtype=torch.float64)
    x, y = (torch.tanh(z @ torch.randn(8, width, generator=generator, dtype=torch.float64)) for _ in range(2))
    kept = [compact(v.numpy().astype(np.float32)) for v in (x, y)]
    assert kept[0]["values"].dtype == dtype, "float32 for a small layer, float16 else"
    stored = CkaAgainst(torch.from_numpy(expanded(**kept[0])))(torch.from_numpy(expanded(**kept[1])))
    assert abs(stored - reference_cka(x.numpy(), y.numpy())) < bound


def test_post_hoc_moments_of_the_same_weights_give_one_and_broken_files_are_skipped_by_name(run_cli, tmp_path):
    assert run_cli("fit", *CONFIG, "--trainer.max_epochs=2").code == 0
    run = latest_run(tmp_path, "drift")
    checkpoint = ["--ckpt_path", str(run / "checkpoints" / "last.ckpt")]
    assert run_cli("probe", *CONFIG, *checkpoint).code == 0
    folder = run / "probes" / "representation_drift"
    shutil.copytree(folder / "probe", folder / "probe-copy")  # the same moment twice, then made unreadable
    (folder / "probe-copy" / "features.npz").write_bytes(b"not a zip file")
    np.savez(folder / "epoch=0000" / "features.npz", index=np.array([object()], dtype=object))  # a pickled array
    with pytest.warns(UserWarning) as warned:
        result = run_cli("probe", *CONFIG, *checkpoint)
    assert result.code == 0, result.err[-2000:]
    said = " ".join(str(w.message) for w in warned)
    assert "probe-copy/features.npz' is not a readable .npz" in said and "epoch=0000/features.npz' is not a readable" in said
    matrix = drift(folder / "probe-2")
    assert list(matrix["moments"]) == ["initial", "epoch=0001", "probe", "probe-2"], "broken files left out, in stored order"
    np.testing.assert_allclose(matrix["cka"][:, 1:], 1.0, rtol=0, atol=1e-12)  # last.ckpt holds epoch 1's weights
    assert (matrix["cka"][:, 0] < 0.99).all()
    assert "initial_weights" not in json.loads((folder / "probe-2" / "manifest.json").read_text()), "initial read from disk"
    assert len(json.loads((folder / "probe-2" / "drift.json").read_text())["skipped"]) == 2, "the reader of drift.json sees why"


def test_a_run_that_dies_and_resumes_equals_one_that_did_not_and_tensorboard_has_the_curves(run_cli, tmp_path):
    assert run_cli("fit", *CONFIG, shrink=False).code == 0
    straight = latest_run(tmp_path, "drift")
    dies = json.dumps([{"class_path": "helpers.initial_probes.RaiseAtEpochEnd", "init_args": {"epoch": 1}}])
    with pytest.raises(RuntimeError, match="the run dies after epoch 1"):
        run_cli("fit", *CONFIG, "--trainer.callbacks", dies, shrink=False)
    resumed = run_cli("fit", *CONFIG, "--ckpt_path", "last", shrink=False)
    assert resumed.code == 0, resumed.err[-2000:]
    broken = latest_run(tmp_path, "drift")
    assert broken != straight
    for moment in ("epoch=0001", "epoch=0002", "fit_end"):
        one, two = (drift(run / "probes" / "representation_drift" / moment) for run in (straight, broken))
        assert list(one["moments"]) == list(two["moments"])
        np.testing.assert_allclose(two["cka"], one["cka"], rtol=0, atol=1e-6, err_msg=moment)
    events = EventAccumulator(str(straight), size_guidance={"images": 0, "scalars": 0}).Reload()
    assert "representation_drift/cka" in events.Tags()["images"]
    last = drift(straight / "probes" / "representation_drift" / "epoch=0002")["cka"]
    for i, layer in enumerate(LAYERS):
        initial = events.Scalars(f"representation_drift/{layer}/initial")
        previous = events.Scalars(f"representation_drift/{layer}/previous")
        assert len(initial) == 3 and len(previous) == 2, "a point per epoch (fit_end shares the last one's step)"
        assert initial[-1].value == np.float32(last[i, 0]) and previous[-1].value == np.float32(last[i, -2])
