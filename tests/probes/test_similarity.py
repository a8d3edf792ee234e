"""LayerSimilarity, the streaming CKA probe: over a whole split it writes the layers x layers linear CKA matrix of a
model's activations, equal to a float64 NumPy reference of Kornblith's formula (exact) or of Nguyen et al.'s minibatch
estimator on the same groups, says which in its JSON and the moment's manifest, and is the same on 1 and 2 processes."""

from __future__ import annotations

import json

import numpy as np
import pytest
import pytorch_lightning as pl
import torch
from helpers.cka_reference import digits_val_layers, reference_cka, reference_gram_cka, reference_minibatch_cka, reference_rbf_gram
from helpers.probe_fits import fit_with_probes
from helpers.probe_models import TinyDigitNet
from PIL import Image

import latent_probe
from latent_probe.analysis.cka import MAX_EXACT_WIDTH
from latent_probe.data import DigitsDataModule
from latent_probe.errors import ConfigError
from latent_probe.probes import LayerSimilarity
from latent_probe.probing import MomentWriter, ProbeRunner
from latent_probe.probing.sharding import select_indices, visiting_order

LAYERS = ["hidden", "hidden_act", "bottleneck_act", "classifier"]


def read_result(folder) -> tuple[np.ndarray, list[str], int, dict, dict]:
    """A moment's CKA matrix, layers and sample count (NPZ), its similarity.json and its manifest."""
    with np.load(folder / "similarity.npz", allow_pickle=False) as npz:
        matrix, layers, count = npz["cka"], list(npz["layers"]), int(npz["n_samples"])
    return (matrix, layers, count, json.loads((folder / "similarity.json").read_text()),
            json.loads((folder / "manifest.json").read_text()))


def test_exact_and_minibatch_matrices_equal_float64_references(tmp_path):
    probes = [LayerSimilarity(layers=LAYERS, strict=True),
              LayerSimilarity(layers=LAYERS, method="minibatch", group_size=32, bootstrap=0, name="estimate", strict=True)]
    model, folder = fit_with_probes(tmp_path, probes)
    outputs, size = digits_val_layers(model), len(DigitsDataModule().dataset("val"))
    matrix, layers, count, summary, manifest = read_result(folder / "layer_similarity" / "fit_end")
    expected = np.array([[reference_cka(outputs[a], outputs[b]) for b in LAYERS] for a in LAYERS])
    assert layers == LAYERS and count == size
    np.testing.assert_array_equal(matrix, matrix.T)
    np.testing.assert_array_equal(np.diag(matrix), 1.0)
    np.testing.assert_allclose(matrix, expected, rtol=0, atol=1e-5)  # the model runs in float32
    assert summary["layers"] == LAYERS and summary["n_samples"] == count and summary["method"] == "exact"
    assert manifest["similarity"]["method"] == "exact" and "groups" not in manifest["similarity"]
    np.testing.assert_allclose(np.array(summary["cka"]), matrix, rtol=0, atol=1e-12)
    assert sum(model.probe_rows[1:]) == size, "one pass feeds the streams and the bootstrap's sample ([0]: setup pass)"
    # The bootstrap's sample (1,000 by default) is the whole split here: its CKA is the stream's, inside its interval.
    with np.load(folder / "layer_similarity" / "fit_end" / "similarity.npz") as npz:
        np.testing.assert_allclose(npz["sample_cka"], matrix, rtol=0, atol=1e-9)
        assert int(npz["sample_n_samples"]) == size
        assert np.all(npz["cka_lower"] <= npz["sample_cka"] + 1e-6) and np.all(npz["sample_cka"] <= npz["cka_upper"] + 1e-6)
        assert np.all(npz["cka_upper"] - npz["cka_lower"] < 0.5) and np.any(npz["cka_upper"] - npz["cka_lower"] > 1e-3)
        np.testing.assert_allclose(np.array(summary["sample"]["bootstrap"]["lower"]), npz["cka_lower"], rtol=0, atol=1e-12)
    assert {key: summary["sample"]["bootstrap"][key] for key in ("resamples", "level", "interval")} == \
        {"resamples": 1000, "level": 0.95, "interval": "basic"}
    assert manifest["similarity"]["sample"] == {"kernel": "linear", "n_samples": size, "resamples": 1000, "interval": "basic"}
    picture = np.asarray(Image.open(folder / "layer_similarity" / "fit_end" / "similarity.png"))
    assert picture.ndim == 3 and min(picture.shape[:2]) > 200
    assert (folder / "layer_similarity" / "fit_end" / "similarity_interval.png").is_file()
    assert not (folder / "estimate" / "fit_end" / "similarity_interval.png").exists()  # bootstrap: 0, no intervals
    # One process reads the split in the seeded random order: the groups are its consecutive 32, 180 = 5 x 32 + 20.
    estimate, _, count, summary, manifest = read_result(folder / "estimate" / "fit_end")
    reference = reference_minibatch_cka([outputs[layer] for layer in LAYERS], 32, order=visiting_order(size, None, 0, True))
    np.testing.assert_allclose(estimate, reference, rtol=0, atol=1e-5)
    assert count == size and np.abs(estimate - expected).max() > 1e-3  # an estimate, not the exact value
    how = {"method": "minibatch", "group_size": 32, "groups": 5, "samples_left_out": 20}
    assert {key: summary[key] for key in how} == how and {key: manifest["similarity"][key] for key in how} == how


def test_default_layers_are_the_activation_modules(tmp_path):
    _, probes = fit_with_probes(tmp_path, [LayerSimilarity(bootstrap=0, strict=True)])
    with np.load(probes / "layer_similarity" / "fit_end" / "similarity.npz") as npz:
        assert list(npz["layers"]) == ["hidden_act", "bottleneck_act"]


def test_the_sample_is_the_seeded_subset_and_the_rbf_kernel_follows_kornblith(tmp_path):
    probes = [LayerSimilarity(layers=LAYERS, bootstrap=200, bootstrap_samples=100, name="sampled", strict=True),
              LayerSimilarity(layers=LAYERS, bootstrap=0, bootstrap_samples=100, kernel="rbf", rbf_sigma=0.5, name="rbf",
                              strict=True)]
    model, folder = fit_with_probes(tmp_path, probes)
    rows = select_indices(len(DigitsDataModule().dataset("val")), 100, seed=0).numpy()
    outputs = {layer: values[rows] for layer, values in digits_val_layers(model).items()}
    with np.load(folder / "sampled" / "fit_end" / "similarity.npz") as npz:
        expected = [[reference_cka(outputs[a], outputs[b]) for b in LAYERS] for a in LAYERS]
        np.testing.assert_allclose(npz["sample_cka"], expected, rtol=0, atol=1e-5)
        assert int(npz["sample_n_samples"]) == 100 and npz["cka_lower"].shape == (4, 4)
    kernels = [reference_rbf_gram(outputs[layer], 0.5) for layer in LAYERS]
    with np.load(folder / "rbf" / "fit_end" / "similarity.npz") as npz:
        np.testing.assert_allclose(npz["sample_cka"], [[reference_gram_cka(a, b) for b in kernels] for a in kernels], atol=1e-5)
        assert "cka_lower" not in npz.files
    summary = json.loads((folder / "rbf" / "fit_end" / "similarity.json").read_text())
    assert summary["sample"]["kernel"] == "rbf" and summary["sample"]["rbf_sigma"] == 0.5 and "bootstrap" not in summary["sample"]


class WideNet(TinyDigitNet):
    """TinyDigitNet with a hidden layer one feature wider than exact CKA takes."""

    def __init__(self) -> None:
        super().__init__()
        self.hidden = torch.nn.Linear(64, MAX_EXACT_WIDTH + 1)
        self.bottleneck = torch.nn.Linear(MAX_EXACT_WIDTH + 1, 2)


def fit_wide(folder, probe: LayerSimilarity) -> WideNet:
    """One training batch of a seeded WideNet with ``probe`` at fit_end."""
    torch.manual_seed(0)
    model = WideNet()
    trainer = pl.Trainer(max_epochs=1, limit_train_batches=1, limit_val_batches=0, accelerator="cpu", enable_checkpointing=False,
                         enable_progress_bar=False, enable_model_summary=False, default_root_dir=folder,
                         logger=pl.loggers.TensorBoardLogger(str(folder), name="run", version=0), callbacks=[ProbeRunner([probe])])
    trainer.fit(model, datamodule=DigitsDataModule(batch_size=32))
    return model


def test_a_layer_too_wide_for_exact_cka_gets_the_estimator_unless_exact_is_asked(tmp_path):
    with pytest.raises(ConfigError, match=rf"'hidden_act' has {MAX_EXACT_WIDTH + 1} features.*method to minibatch"):
        fit_wide(tmp_path, LayerSimilarity(layers=["hidden_act", "bottleneck_act"], method="exact", strict=True))
    model = fit_wide(tmp_path, LayerSimilarity(layers=["hidden_act", "bottleneck_act"], group_size=60, bootstrap=0, strict=True))
    matrix, _, _, summary, manifest = read_result(tmp_path / "run" / "version_0" / "probes" / "layer_similarity" / "fit_end")
    outputs = digits_val_layers(model)
    reference = reference_minibatch_cka([outputs["hidden_act"], outputs["bottleneck_act"]], 60,
                                        order=visiting_order(len(outputs["hidden_act"]), None, 0, True))
    np.testing.assert_allclose(matrix, reference, rtol=0, atol=1e-5)
    assert summary["method"] == manifest["similarity"]["method"] == "minibatch" and summary["groups"] == 3


class TwoViews(torch.nn.Module):
    """Layer ``a`` is inputs 0 and 1, layer ``b`` inputs 0 and 2: alike through input 0 alone."""

    def __init__(self) -> None:
        super().__init__()
        self.a, self.b = torch.nn.Identity(), torch.nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.a(x[:, [0, 1]]) + self.b(x[:, [0, 2]])


def test_the_estimators_groups_are_random_draws_even_from_a_split_sorted_by_class(tmp_path):
    """Input 0 carries the class (5 apart) plus noise, inputs 1 and 2 independent noise: over the split, ``a`` and ``b``
    share the class's large variance (CKA 0.98); within one class only input 0's noise (0.49). Groups cut in the
    dataset's order (sorted by class) would estimate the latter."""
    generator = torch.Generator().manual_seed(0)
    labels = torch.arange(2).repeat_interleave(1000)
    x = torch.randn(2000, 3, generator=generator)
    x[:, 0] += 5 * labels
    probes = [LayerSimilarity(layers=["a", "b"], method="minibatch", group_size=100, bootstrap=0, name="estimate"),
              LayerSimilarity(layers=["a", "b"], bootstrap=0, name="exact")]
    run = latent_probe.probe(TwoViews(), torch.utils.data.TensorDataset(x, labels), probes, out=tmp_path / "runs", show=False)
    estimate, exact = (read_result(run / "probes" / name / "probe")[0][0, 1] for name in ("estimate", "exact"))
    views = [x[:, [0, 1]].double().numpy(), x[:, [0, 2]].double().numpy()]
    in_dataset_order = reference_minibatch_cka(views, 100)[0, 1]
    assert exact > 0.9 and in_dataset_order < 0.6, "the data must tell the two orders apart"
    assert abs(estimate - exact) < 0.03
    np.testing.assert_allclose(estimate, reference_minibatch_cka(views, 100, order=visiting_order(2000, None, 0, True))[0, 1],
                               rtol=0, atol=1e-5)


@pytest.mark.parametrize(("options", "message"), [
    ({"method": "fast"}, "unknown method 'fast'; valid choices: auto, exact, minibatch"),
    ({"group_size": 3}, "group_size must be >= 4, got 3"),
    ({"bootstrap": -1}, "bootstrap must be >= 0 and <= 100000, got -1"),
    ({"bootstrap_samples": 5000}, "bootstrap_samples must be >= 4 and <= 4096, got 5000"),
    ({"kernel": "cosine"}, "unknown kernel 'cosine'; valid choices: linear, rbf"),
    ({"rbf_sigma": 0.0}, "rbf_sigma must be > 0, got 0.0"),
])
def test_bad_options_are_refused_when_the_probe_is_made(options, message):
    with pytest.raises(ConfigError, match=message):
        LayerSimilarity(**options)


def test_a_split_smaller_than_one_group_is_refused_at_setup(tmp_path):
    with pytest.raises(ConfigError, match="group_size 256 is more than the 180 samples of the val split"):
        fit_with_probes(tmp_path, [LayerSimilarity(layers=LAYERS, method="minibatch", bootstrap=0, strict=True)])


def test_the_manifests_own_keys_cannot_be_replaced(tmp_path):
    out = MomentWriter(tmp_path, "p", "fit_end", 0, about={"layers": []})
    out.note(similarity={"method": "exact"})
    with pytest.raises(ValueError, match=r"\['layers', 'step'\]"):
        out.note(step=3, layers=[], other=1)
    out.mark_complete()
    assert json.loads(out.path("manifest.json").read_text())["similarity"] == {"method": "exact"}


# 1 and 2 processes give the same matrix: tests/probes/test_unit_stats.py runs both streaming probes in one DDP pass.
