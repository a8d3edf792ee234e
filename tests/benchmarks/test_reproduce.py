"""benchmarks/reproduce.py: its table rendering and figure helpers, and its metric readers on one tiny real toy run."""

from __future__ import annotations

import sys

import numpy as np
import yaml
from helpers.paths import REPO
from PIL import Image

sys.path.insert(0, str(REPO / "benchmarks"))  # the script imports its neighbours (_harness, mnist_loader)

import reproduce  # noqa: E402


def toy_run(group: str, seed: int, val_acc: float) -> dict:
    """A finished toy run's record as ``reproduce`` writes it."""
    return {"group": group, "seed_article": "003", "config": "configs/toy_moons.yaml", "variant": ["--model.depth", "5"],
            "seed": seed, "activation": None, "command": "latent-probe fit ...", "fit_s": 12.0, "test_s": 1.0,
            "max_epochs": 20, "limit_train_batches": None, "metrics": {"val/acc": val_acc, "test/acc": val_acc}}


def small_report(mode: str = "full") -> dict:
    """A report with three seeds of one toy case, two seeds of a bottleneck, VAE runs with their latent figures and one failed run."""
    runs = {f"moons_d5_w2_shipped_s{seed}": toy_run("moons_d5_w2_shipped", seed, acc) for seed, acc in enumerate((1.0, 0.975, 0.99))}
    for seed, (acc, origin) in enumerate(((0.95, 0.27), (0.97, 0.09))):
        runs[f"bottleneck2d_relu_s{seed}"] = {**toy_run("bottleneck2d", seed, acc), "activation": "relu",
                                             "probe": {"angle_share": 0.8, "origin_share": origin}}
    runs["vae"] = {**toy_run("vae", None, 0.0), "seed_article": "001", "config": "configs/vae.yaml", "variant": [],
                   "metrics": {"test/loss": 101.5},
                   "probe": {"nearest_centroid_share": [0.99] * 10, "nearest_centroid_share_mean": 0.99, "n_active_units": 11,
                             "dim": 20, "max_centroid_distance": 12.31, "kmeans_raw_accuracy": 0.5, "n_units_far_from_zero": 9}}
    runs["vae_long"] = {**runs["vae"], "group": "vae_long", "probe": {**runs["vae"]["probe"], "n_active_units": 8,
                                                                       "n_units_far_from_zero": 7}}
    runs["vae_kl4"] = {**runs["vae"], "group": "vae_kl", "variant": ["--model.kl_weight", "4"],
                       "probe": {**runs["vae"]["probe"], "n_active_units": 6, "n_units_far_from_zero": 5}}
    runs["sda"] = {"group": "sda", "config": "configs/sda.yaml", "variant": [], "command": "latent-probe fit ...", "error": "boom"}
    return {"mode": mode, "env": {"cpu_count": 2}, "loadavg": {"start": [4.0], "end": [5.0]}, "total_wall_s": 60.0,
            "data_root": "../shared/data/mnist10k", "runs": runs, "figures": reproduce.figures(runs), "images": {}}


def test_figures_summarise_the_seeds_of_each_toy_case():
    summary = small_report()["figures"]
    assert set(summary) == {"moons_d5_w2_shipped", "bottleneck2d_relu", "bottleneck2d_relu_angle", "bottleneck2d_relu_origin"}
    moons = summary["moons_d5_w2_shipped"]
    assert moons["n"] == 3 and moons["min"] == 0.975 and moons["max"] == 1.0 and moons["median"] == 0.99
    assert np.isclose(moons["mean"], (1.0 + 0.975 + 0.99) / 3)
    assert moons["reached"] == 1, "only 100 % reaches the article's 100 % (at least 99.5 %)"
    assert summary["bottleneck2d_relu"]["median"] == 0.96 and summary["bottleneck2d_relu"]["n"] == 2


def test_render_markdown_puts_ours_beside_the_articles():
    text = reproduce.render_markdown(small_report())
    moons = next(line for line in text.splitlines() if line.startswith("| 003 | moons, depth 5, width 2: shipped config"))
    assert "| 100 % |" in moons and "val acc 99.0 % (97.5 %–100.0 %, 3 seeds); 1 of 3 seeds reach" in moons
    assert "(seeds 0, 1, 2)" in moons
    assert "| 003 | moons, depth 5, width 2: the article's setup (Keras init, Adam 1e-3, 20 epochs) | 100 % | not run |" in text
    relu = next(line for line in text.splitlines() if line.startswith("| 000 | 2-unit bottleneck, relu"))
    assert "test acc 96.0 % (95.0 %–97.0 %, 2 seeds)" in relu
    assert "test images at (0, 0), both units off: seed 0: 27.0 %, seed 1: 9.0 %" in relu
    shares = next(line for line in text.splitlines() if "nearest-centroid share per digit" in line)
    assert "99.0, 97.0, 91.3" in shares and "mean 99.0 %" in shares
    assert "12.3 Euclidean (151.5 squared)" in text  # the largest centroid distance
    assert "11 of 20 (shipped epochs); 8 after 60 epochs" in text and "9 of 20 (shipped epochs); 7 after 60 epochs" in text
    assert "on MNIST) | 50.0 % |" in text
    assert "β 1: 11 / 9, β 4: 6 / 5 (variance > 0.01 / far from 0)" in text
    assert "from 11 / 9 to 8 / 7, while weighing the KL term 4x (`--model.kl_weight 4`" in text
    assert "| 000 | 2-unit bottleneck, sigmoid | ~1 h to train | not run |" in text
    assert "failed: boom" in text and "MNIST-10k split" in text and "QUICK" not in text


def test_quick_reports_say_so():
    text = reproduce.render_markdown(small_report("quick"))
    assert "QUICK MODE" in text.splitlines()[0] and "at most 500 test images" in text


def test_origin_share_counts_only_points_with_both_units_off():
    points = np.array([[0.0, 0.0], [0.0, 1.5], [2.0, 0.0], [0.0, 0.0]])
    assert reproduce.origin_share(points) == 0.5
    assert reproduce.origin_share(points + 1e-6) == 0.0


def test_angle_share_is_one_for_points_on_one_ray_per_class():
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(4), 50)
    radius = rng.uniform(0.5, 5.0, len(labels))
    angles = labels * np.pi / 2 + rng.normal(0, 0.05, len(labels))
    rays = np.stack([radius * np.cos(angles), radius * np.sin(angles)], axis=1)
    assert reproduce.angle_share(rays, labels) == 1.0
    assert reproduce.angle_share(rng.normal(size=rays.shape), labels) < 0.6


def test_latent_figures_read_the_dumper_metrics():
    distances = [[0.0, 3.0], [3.0, 0.0]]
    metrics = {"n_samples": 4, "layers": {"encoder.mean": {
        "nearest_centroid_share": [1.0, 0.5], "nearest_centroid_share_mean": 0.75, "n_active_units": 2, "dim": 20,
        "centroid_distances": distances}}, "raw_input_baseline": {"kmeans_accuracy": 0.7, "nearest_centroid_share_mean": 0.6}}
    figures = reproduce.latent_figures(metrics)
    assert figures["max_centroid_distance"] == 3.0 and figures["kmeans_raw_accuracy"] == 0.7 and figures["n_active_units"] == 2


def test_quick_config_caps_every_probe_sample_count(tmp_path):
    copy = reproduce.quick_config(REPO / "configs" / "bottleneck2d.yaml", tmp_path, max_samples=300)
    probes = yaml.safe_load(copy.read_text())["probes"]
    assert [p["init_args"]["max_samples"] for p in probes] == [300, 300, 300]
    assert copy.parent == tmp_path / "configs"


def test_commands_show_the_offline_data_and_the_quick_overrides():
    spec = next(s for s in reproduce.plan(quick=True) if s.name == "mlp_influence")
    overrides = reproduce.run_overrides(spec, quick=True, data_root="../shared/data/mnist10k")
    command = reproduce.command_line("fit", spec.config, overrides)
    assert command.startswith("latent-probe fit --config configs/mlp_influence.yaml --data.root ../shared/data/mnist10k")
    assert "--trainer.max_epochs 1" in command
    full = reproduce.plan(quick=False)
    assert len([s for s in full if s.group == "circles_d10_w3_article"]) == 5
    assert [s.seed for s in full if s.group == "bottleneck2d" and s.activation == "sigmoid"] == [0, 1, 2]
    assert {s.name: s.config for s in reproduce.plan(quick=True) if s.group == "bottleneck2d"} == {
        "bottleneck2d_relu_s0": "configs/bottleneck2d.yaml", "bottleneck2d_leaky_relu_s0": "configs/bottleneck2d.yaml",
        "bottleneck2d_sigmoid_s0": "configs/bottleneck2d_sigmoid.yaml"}


def test_train_and_test_read_back_a_tiny_real_toy_run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    spec = reproduce.RunSpec("moons_tiny", "003", "configs/toy_moons.yaml", ("--model.depth", "0"), group="moons_d0_w2", seed=1)
    overrides = [*spec.overrides, "--trainer.max_epochs", "1", "--trainer.limit_train_batches", "3", "--trainer.limit_val_batches", "2"]
    result = reproduce.train_and_test(spec, REPO / spec.config, overrides, tmp_path / "runs")
    assert result["fit_dir"].parent == tmp_path / "runs" / "moons_tiny" and result["test_dir"] != result["fit_dir"]
    assert {"val/acc", "val/loss", "test/acc", "test/loss"} <= set(result["metrics"])
    assert all(0 <= result["metrics"][tag] <= 1 for tag in ("val/acc", "test/acc"))
    assert result["max_epochs"] == 1 and result["limit_train_batches"] == 3 and result["fit_s"] > 0
    copied = reproduce.copy_images({"quickstart": result["fit_dir"]}, tmp_path / "pictures")
    assert list(copied) == ["003_quickstart_steps.png", "003_quickstart_layer_similarity.png"]
    for name in copied:
        with Image.open(tmp_path / "pictures" / name) as image:
            assert max(image.size) <= reproduce.IMAGE_MAX_SIDE
    similarity = reproduce.probe_figures(spec, result["fit_dir"])["layer_similarity"]
    with np.load(result["fit_dir"] / "probes" / "layer_similarity" / "fit_end" / "similarity.npz") as data:
        assert similarity["layers"] == data["layers"].tolist() and np.array_equal(similarity["cka"], data["cka"], equal_nan=True)


def test_reuse_takes_only_finished_runs_with_the_same_command(tmp_path):
    spec = reproduce.RunSpec("vae_kl4", "001", "configs/vae.yaml", ("--model.kl_weight", "4"), mnist=True, group="vae_kl")
    data_root = tmp_path / "mnist"
    command = reproduce.command_line("fit", spec.config, reproduce.run_overrides(spec, False, reproduce.display_path(data_root)))
    record = {"command": command, "config_sha256": reproduce.config_digest(spec.config), "metrics": {"test/loss": 120.0}}
    assert reproduce.reused_run(spec, False, data_root, tmp_path, {"vae_kl4": record}) is None, "no fit folder to take pictures from"
    fit_dir = tmp_path / "runs" / "vae_kl4" / "version_0"
    (fit_dir / "checkpoints").mkdir(parents=True)
    assert reproduce.reused_run(spec, False, data_root, tmp_path, {"vae_kl4": record}) == (record, fit_dir)
    assert reproduce.reused_run(spec, False, data_root, tmp_path, {"vae_kl4": {**record, "command": "other"}}) is None
    assert reproduce.reused_run(spec, False, data_root, tmp_path, {"vae_kl4": {**record, "error": "boom"}}) is None
    assert reproduce.reused_run(spec, False, data_root, tmp_path, {"vae_kl4": {**record, "config_sha256": "0" * 64}}) is None, \
        "the config changed since"
    assert reproduce.reused_run(spec, False, data_root, tmp_path, {}) is None


def test_the_similarity_sentences_quote_the_matrices():
    layers = ["a", "b", "bottleneck_act"]
    cka = [[1.0, 0.4, 0.25], [0.4, 1.0, 0.75], [0.25, 0.75, 1.0]]
    drift = {"layers": ["encoder_acts.0"], "moments": ["initial", "epoch=0003", "epoch=0009"], "cka": [[0.5, 0.875, 1.0]],
             "n_samples": 1000}
    report = small_report()
    report["runs"]["bottleneck2d_relu_s0"]["probe"]["layer_similarity"] = {"layers": layers, "cka": cka, "n_samples": 2000}
    report["runs"]["sda"] = {**toy_run("sda", None, 0.9), "probe": {"representation_drift": drift}}
    report["runs"]["quickstart"] = {**toy_run("quickstart", None, 1.0),
                                    "probe": {"layer_similarity": {"layers": layers, "cka": cka, "n_samples": 400}}}
    text = reproduce.render_markdown(report)
    assert "## Representation similarity" in text
    assert "`a` 0.25, `b` 0.75" in text  # 000: each layer against bottleneck_act
    assert "`encoder_acts.0` 0.88 (against its initial weights 0.50)" in text  # 002: fit_end vs epoch=0003 (pretrain_end)
    assert "ranges from 0.40 (`a` → `b`" in text and "to 0.75" in text and "the last layer: 0.25" in text  # 003
