"""The embedding dumper end to end through the real CLI, Trainer, TensorBoard writer and projector loader."""

import json

import numpy as np
import pytest
from helpers.probe_models import DIGITS
from helpers.runs import assert_same_npz, fit_checkpoint, latest_run, post_hoc_moments, probe_on_one_and_two_processes
from helpers.tensorboard_projector import load_with_tensorboard
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator


def dumper(*extra: str) -> list[str]:
    spec = {"class_path": "EmbeddingDumper", "init_args": {"layers": ["bottleneck", "hidden_act"], "max_samples": 150}}
    for item in extra:
        key, value = item.split("=")
        spec["init_args"][key] = json.loads(value)
    return ["--probes", json.dumps([spec])]


def test_fit_writes_every_artifact_per_moment(run_cli, tmp_path):
    result = run_cli("fit", *DIGITS, *dumper("every_n_epochs=1"), "--trainer.max_epochs=2")
    assert result.code == 0, result.err
    run = latest_run(tmp_path, "digits")
    moments = sorted(p.name for p in (run / "probes" / "embedding_dumper").iterdir())
    assert moments == ["epoch=0000", "epoch=0001", "fit_end"]
    folder = run / "probes" / "embedding_dumper" / "fit_end"
    with np.load(folder / "embeddings.npz", allow_pickle=False) as npz:
        assert set(npz.files) == {"index", "label", "bottleneck", "hidden_act"}
        assert npz["bottleneck"].shape == (150, 2) and npz["hidden_act"].shape == (150, 16)
        assert np.all(np.diff(npz["index"]) > 0)
    for stem in ("bottleneck", "hidden_act"):
        for picture in ("scatter", "thumbnails", "centroid_distances"):
            assert (folder / f"{stem}_{picture}.png").stat().st_size > 1000
    metrics = json.loads((folder / "metrics.json").read_text())
    layer = metrics["layers"]["bottleneck"]
    assert len(layer["nearest_centroid_share"]) == 10 and np.array(layer["centroid_distances"]).shape == (10, 10)
    assert 0 <= metrics["raw_input_baseline"]["kmeans_accuracy"] <= 1
    config, _ = load_with_tensorboard(run)
    assert len(config.embeddings) == 6, "2 layers x 3 moments must all stay in the projector"
    assert all(e.sprite.image_path for e in config.embeddings)
    events = EventAccumulator(str(run), size_guidance={"images": 0}).Reload()
    assert "embedding_dumper/bottleneck/thumbnails" in events.Tags()["images"]
    assert "embedding_dumper/bottleneck/nearest_centroid_share" in events.Tags()["scalars"]


def test_probe_subcommand_runs_probes_on_a_checkpoint(run_cli, tmp_path):
    assert run_cli("fit", *DIGITS, *dumper("pictures=false")).code == 0
    checkpoint = latest_run(tmp_path, "digits") / "checkpoints" / "last.ckpt"
    result = run_cli("probe", *DIGITS, *dumper("pictures=false"), "--ckpt_path", str(checkpoint))
    assert result.code == 0, result.err
    assert (latest_run(tmp_path, "digits") / "probes" / "embedding_dumper" / "probe" / "embeddings.npz").is_file()


def test_unknown_layer_is_a_clean_error(run_cli):
    spec = json.dumps([{"class_path": "EmbeddingDumper", "init_args": {"layers": ["bottlenek"]}}])
    result = run_cli("fit", *DIGITS, "--probes", spec)
    assert result.code == 2 and "Traceback" not in result.err
    line = result.err.strip().splitlines()[-1]
    expected = "latent-probe: error: probe 'embedding_dumper': layer 'bottlenek' not found in TinyDigitNet; module paths: bottleneck"
    assert line.startswith(expected)
    assert "* crosses dots" in line and "re:" in line


def test_failing_probe_warns_and_training_goes_on(run_cli, tmp_path):
    with pytest.warns(UserWarning, match="probe 'failing_probe' failed at fit_end"):
        result = run_cli("fit", *DIGITS, "--probes", '[{"class_path": "helpers.probe_models.FailingProbe"}]')
    assert result.code == 0
    assert (latest_run(tmp_path, "digits") / "checkpoints" / "last.ckpt").is_file()
    assert not (latest_run(tmp_path, "digits") / "probes").exists()


def test_strict_probe_failure_stops_the_run(run_cli):
    spec = '[{"class_path": "helpers.probe_models.FailingProbe", "init_args": {"strict": true}}]'
    with pytest.raises(RuntimeError, match="deliberate failure"):
        run_cli("fit", *DIGITS, "--probes", spec)


@pytest.mark.slow
def test_ddp_two_processes_equal_one(tmp_path):
    probes = dumper("pictures=false", "max_samples=301")
    checkpoint = fit_checkpoint(tmp_path, "digits", *DIGITS, *probes)
    one, two = post_hoc_moments(probe_on_one_and_two_processes(
        tmp_path, "digits", *DIGITS, *probes, "--ckpt_path", checkpoint), "embedding_dumper")
    assert_same_npz(one / "embeddings.npz", two / "embeddings.npz")
    with np.load(two / "embeddings.npz") as npz:
        assert len(npz["index"]) == 301 and len(set(npz["index"].tolist())) == 301
    m1, m2 = (json.loads((d / "metrics.json").read_text()) for d in (one, two))
    distances = [m["layers"]["bottleneck"]["centroid_distances"] for m in (m1, m2)]
    np.testing.assert_allclose(*distances, atol=1e-5)


@pytest.mark.parametrize(("option", "file"), [((), "tensors.bytes"), (('projector_format="tsv"',), "tensors.tsv")])
def test_projector_format_option_reaches_the_projector_files(run_cli, tmp_path, option, file):
    from werkzeug.test import Client

    result = run_cli("fit", *DIGITS, *dumper("pictures=false", "metrics=false", *option))
    assert result.code == 0, result.err
    run = latest_run(tmp_path, "digits")
    config, plugin = load_with_tensorboard(run)
    entry = {e.tensor_name: e for e in config.embeddings}["embedding_dumper/hidden_act@fit_end"]
    assert entry.tensor_path == f"probes/embedding_dumper/fit_end/projector/hidden_act/{file}"
    served = Client(plugin.get_plugin_apps()["/tensor"]).get(f"/tensor?run=.&name={entry.tensor_name}")
    with np.load(run / "probes" / "embedding_dumper" / "fit_end" / "embeddings.npz") as npz:
        np.testing.assert_allclose(np.frombuffer(served.data, np.float32).reshape(150, 16), npz["hidden_act"], rtol=1e-6)


def test_unknown_projector_format_is_a_clean_error(run_cli):
    from latent_probe.errors import ConfigError
    from latent_probe.probes.embedding import EmbeddingDumper

    result = run_cli("fit", *DIGITS, *dumper('projector_format="npy"'))
    assert result.code == 2 and "Traceback" not in result.err
    assert "npy" in result.err and "'binary', 'tsv'" in result.err  # the CLI checks the Literal itself
    with pytest.raises(ConfigError, match="unknown projector_format 'npy'; valid choices: .*tsv"):
        EmbeddingDumper(layers=["bottleneck"], projector_format="npy")
