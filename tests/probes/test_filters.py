"""Filter tiler: tile layout and scaling, composed filters, setup checks, and fits writing the artifacts."""

import json

import numpy as np
import pytest
import torch
from helpers.mnist_files import fake_mnist_args, write_fake_mnist
from helpers.paths import CONFIGS
from helpers.probe_models import DIGITS
from helpers.runs import latest_run
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from torch import nn

from latent_probe.dataspec import DataSpec
from latent_probe.errors import ConfigError
from latent_probe.probes.filters import FilterTiler, composed_weight, select_units
from latent_probe.probing import Firing, prepare_probes
from latent_probe.viz.tiles import auto_zoom, tile_grid


def tiler(**init_args) -> dict:
    return {"class_path": "FilterTiler", "init_args": init_args}


def set_up(probe: FilterTiler, model: nn.Module, image_shape=(1, 2, 3)) -> FilterTiler:
    prepare_probes([probe], model, DataSpec(datasets=lambda split: [], image_shape=image_shape))
    return probe


def test_tiles_are_laid_out_in_rows_with_spacing():
    tiles = torch.arange(5 * 6, dtype=torch.float32).reshape(5, 1, 2, 3)
    grid = tile_grid(tiles, per_row=2, spacing=1, scaling="per_tile")
    assert grid.shape == (3, 3 * (2 + 1) + 1, 2 * (3 + 1) + 1)  # 3 rows of 2 tiles, 1 px around each
    for k in range(5):
        row, col = divmod(k, 2)
        tile = grid[0, 1 + 3 * row : 3 + 3 * row, 1 + 4 * col : 4 + 4 * col]
        assert torch.allclose(tile, torch.linspace(0, 1, 6).reshape(2, 3)), k
    assert grid[:, 0].abs().sum() == 0 and grid[:, :, 0].abs().sum() == 0, "spacing is black like the seed's"
    assert grid[:, 7:9, 5:8].abs().sum() == 0, "the missing sixth tile stays empty"


def test_scaling_per_tile_and_symmetric():
    tiles = torch.tensor([[[[-1.0, 0.0, 1.0]]], [[[0.0, 2.0, 4.0]]]])  # (2, 1, 1, 3)
    per_tile = tile_grid(tiles, per_row=2, spacing=0, scaling="per_tile")[0, 0]
    assert torch.allclose(per_tile, torch.tensor([0.0, 0.5, 1.0, 0.0, 0.5, 1.0]))
    symmetric = tile_grid(tiles, per_row=2, spacing=0, scaling="symmetric")[0, 0]
    assert torch.allclose(symmetric, torch.tensor([0.375, 0.5, 0.625, 0.5, 0.75, 1.0])), "0 is mid-grey in every tile"


def test_zoom_enlarges_small_tiles():
    assert (auto_zoom(28, 28), auto_zoom(8, 8), auto_zoom(5, 5)) == (1, 4, 6)
    grid = tile_grid(torch.ones(1, 1, 2, 2), zoom=3, spacing=1)
    assert grid.shape == (3, 6, 6)


def test_composed_filters_are_the_seeds_product():
    w1, w2, w3 = torch.randn(4, 6), torch.randn(3, 4), torch.randn(2, 3)
    product = composed_weight([w1, w2, w3])
    assert product.shape == (2, 6)
    theano = w1.T @ w2.T @ w3.T  # the seed's W1*W2*W3 with Theano's (in, out) matrices: one column per unit
    assert torch.allclose(product, theano.T, atol=1e-6)


def test_unit_selection():
    rows = torch.tensor([[1.0, 0], [3, 0], [0, 2], [0, 0.5]])
    assert select_units(rows, 3, "first").tolist() == [0, 1, 2]
    assert select_units(rows, 2, "largest_norm").tolist() == [1, 2]
    assert select_units(rows, 10, "first").tolist() == [0, 1, 2, 3]


def test_compute_reshapes_rows_to_the_image_and_composes():
    model = nn.Sequential(nn.Linear(6, 4), nn.Sigmoid(), nn.Linear(4, 3))
    single = set_up(FilterTiler(max_tiles=3), model)
    assert single.layers == ["0"], "default: the first Linear layer"
    tiles = single.compute(Firing(single, "probe", None, model, None))["0"]
    assert tiles.weights.shape == (3, 1, 2, 3) and torch.equal(tiles.weights[1, 0].flatten(), model[0].weight[1])
    chain = set_up(FilterTiler(layers=["0", "2"], compose=True), model)
    composed = chain.compute(Firing(chain, "probe", None, model, None))["0*2"]
    assert composed.weights.shape == (3, 1, 2, 3)
    assert torch.allclose(composed.weights.flatten(1), model[2].weight @ model[0].weight)


def test_conv_kernels_are_tiled_directly():
    model = nn.Sequential(nn.Conv2d(1, 5, 3), nn.ReLU(), nn.Conv2d(5, 2, 3))
    probe = set_up(FilterTiler(), model, image_shape=(1, 28, 28))
    assert probe.compute(Firing(probe, "probe", None, model, None))["0"].weights.shape == (5, 1, 3, 3)
    with pytest.raises(ConfigError, match=r"Conv2d layer '2' has weight shape \(2, 5, 3, 3\)"):
        set_up(FilterTiler(layers=["2"]), model)


def test_layers_that_do_not_fit_the_image_fail_at_setup():
    model = nn.Sequential(nn.Linear(6, 4), nn.Sigmoid(), nn.Linear(4, 3))
    with pytest.raises(ConfigError, match=r"layer '2' has weight shape \(3, 4\).*image shape \(1, 2, 3\)"):
        set_up(FilterTiler(layers=["2"]), model)
    with pytest.raises(ConfigError, match="not a Linear or Conv2d"):
        set_up(FilterTiler(layers=["1"]), model)
    with pytest.raises(ConfigError, match="do not form a chain"):
        set_up(FilterTiler(layers=["0", "1"], compose=True), nn.Sequential(nn.Linear(6, 4), nn.Linear(3, 2)))
    with pytest.raises(ConfigError, match=r"image_shape must be \[C, H, W\] or \[H, W\] of positive integers, got \[2\]"):
        set_up(FilterTiler(), model, image_shape=(2,))
    assert set_up(FilterTiler(layers=["2"], image_shape=[2, 2]), model).tile_shape == (1, 2, 2), "init arg wins"


def test_fit_writes_filters_per_moment_and_composed(run_cli, tmp_path):
    probes = [tiler(layers=["hidden"], every_n_epochs=1, scaling="symmetric"),
              tiler(layers=["hidden", "bottleneck"], compose=True, name="composed")]
    result = run_cli("fit", *DIGITS, "--probes", json.dumps(probes), "--trainer.max_epochs=2")
    assert result.code == 0, result.err
    run = latest_run(tmp_path, "digits")
    assert sorted(p.name for p in (run / "probes" / "filter_tiler").iterdir()) == ["epoch=0000", "epoch=0001", "fit_end"]
    with np.load(run / "probes" / "filter_tiler" / "fit_end" / "filters.npz") as npz:
        assert npz["hidden"].shape == (16, 1, 8, 8) and npz["units:hidden"].tolist() == list(range(16))
    assert (run / "probes" / "filter_tiler" / "fit_end" / "hidden_filters.png").stat().st_size > 500
    with np.load(run / "probes" / "composed" / "fit_end" / "filters.npz") as npz:
        assert npz["hidden*bottleneck"].shape == (2, 1, 8, 8)
    assert (run / "probes" / "composed" / "fit_end" / "hidden_bottleneck_filters.png").is_file()
    events = EventAccumulator(str(run), size_guidance={"images": 0}).Reload()
    assert {"filter_tiler/hidden", "composed/hidden*bottleneck"} <= set(events.Tags()["images"])
    assert len(events.Images("filter_tiler/hidden")) == 2, "fit_end is the last epoch's firing: TensorBoard has it once"
    manifest = json.loads((run / "probes" / "filter_tiler" / "fit_end" / "manifest.json").read_text())
    assert manifest["same_firing_as"] == "epoch=0001"


def test_second_layer_without_compose_is_a_one_line_error(run_cli):
    result = run_cli("fit", *DIGITS, "--probes", json.dumps([tiler(layers=["bottleneck"])]))
    assert result.code == 2 and "Traceback" not in result.err
    line = result.err.strip().splitlines()[-1]
    assert "layer 'bottleneck' has weight shape (2, 16)" in line and "image shape (1, 8, 8)" in line


def test_sda_filters_after_pretraining_and_after_fine_tuning(run_cli, tmp_path):
    mnist = fake_mnist_args(write_fake_mnist(tmp_path / "mnist"))
    shrink = ["--model.hidden_sizes=[16, 8]", "--model.pretrain_epochs=1", "--trainer.max_epochs=3"]
    result = run_cli("fit", "--config", str(CONFIGS / "sda.yaml"), *mnist, *shrink)
    assert result.code == 0, result.err[-3000:]
    probes = latest_run(tmp_path, "sda") / "probes"
    for name, key, shape in (("filter_tiler", "encoders.0", (16, 1, 28, 28)),
                             ("composed_filters", "encoders.0*encoders.1", (8, 1, 28, 28))):
        assert sorted(p.name for p in (probes / name).iterdir()) == ["fit_end", "pretrain_end"]
        pretrained, finetuned = (np.load(probes / name / when / "filters.npz")[key] for when in ("pretrain_end", "fit_end"))
        assert pretrained.shape == finetuned.shape == shape
        assert not np.allclose(pretrained, finetuned), f"{name}: fine-tuning must change the filters"
        for when in ("pretrain_end", "fit_end"):
            assert (probes / name / when / f"{key.replace('*', '_')}_filters.png").is_file()
