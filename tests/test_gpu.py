"""GPU checks: skipped without CUDA (CI has none); run them on a GPU machine with `pytest -m gpu`."""

import json

import numpy as np
import pytest
import torch
from helpers.device_runs import probe_once, registered_probes
from helpers.paths import CONFIGS
from helpers.runs import latest_run

pytestmark = [pytest.mark.gpu, pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")]


def test_one_gpu_fit_with_probe_on_cuda_tensors(run_cli, tmp_path):
    probes = json.dumps([{"class_path": "EmbeddingDumper", "init_args": {"layers": ["net.hidden_act*"], "max_samples": 200}}])
    result = run_cli("fit", "--config", str(CONFIGS / "quickstart.yaml"), "--probes", probes,
                     "--trainer.accelerator=gpu", "--trainer.devices=1", "--trainer.max_epochs=2")
    assert result.code == 0, result.err
    dump = latest_run(tmp_path, "quickstart") / "probes" / "embedding_dumper" / "fit_end" / "embeddings.npz"
    with np.load(dump) as npz:
        assert npz["net.hidden_act1"].shape == (200, 3) and np.isfinite(npz["net.hidden_act1"]).all()


def test_probe_results_match_between_cpu_and_gpu(run_cli, tmp_path):
    probes = json.dumps([{"class_path": "EmbeddingDumper", "init_args": {"layers": ["net.hidden_act*"], "max_samples": 200,
                                                                        "pictures": False}}])
    config = str(CONFIGS / "quickstart.yaml")
    assert run_cli("fit", "--config", config, "--probes", probes).code == 0
    checkpoint = str(latest_run(tmp_path, "quickstart") / "checkpoints" / "last.ckpt")
    dumps = []
    for accelerator in ("cpu", "gpu"):
        result = run_cli("probe", "--config", config, "--probes", probes, "--ckpt_path", checkpoint, f"--trainer.accelerator={accelerator}")
        assert result.code == 0, result.err
        dumps.append(np.load(latest_run(tmp_path, "quickstart") / "probes" / "embedding_dumper" / "probe" / "embeddings.npz"))
    for key in dumps[0].files:
        np.testing.assert_allclose(dumps[0][key], dumps[1][key], atol=1e-4, err_msg=key)


@pytest.mark.parametrize("probe_name", registered_probes())
def test_every_probe_on_gpu_writes_what_it_writes_on_cpu(tmp_path, probe_name):
    on_cpu, on_gpu = probe_once(tmp_path, probe_name, "cpu"), probe_once(tmp_path, probe_name, "gpu")
    assert (on_gpu / ".complete").is_file()
    cpu_files = sorted(p.relative_to(on_cpu).as_posix() for p in on_cpu.rglob("*") if p.is_file())
    assert cpu_files == sorted(p.relative_to(on_gpu).as_posix() for p in on_gpu.rglob("*") if p.is_file())
    for name in cpu_files:
        if name.endswith(".npz"):
            with np.load(on_cpu / name) as one, np.load(on_gpu / name) as two:
                for key in one.files:
                    if one[key].dtype.kind == "f":
                        np.testing.assert_allclose(two[key], one[key], atol=1e-3, rtol=1e-3, err_msg=f"{name}: {key}")


@pytest.mark.parametrize("probe_name", registered_probes())
def test_every_probe_works_under_bf16_mixed(tmp_path, probe_name):
    assert (probe_once(tmp_path, probe_name, "gpu", precision="bf16-mixed") / ".complete").is_file()


def test_the_linear_readout_is_fitted_on_the_gpu():
    from latent_probe.analysis.linear_readout import readout_accuracy, softmax_readout

    generator = torch.Generator().manual_seed(0)
    centers = torch.randn(5, 64, generator=generator) * 3
    labels = torch.arange(1000) % 5
    features = centers[labels] + torch.randn(1000, 64, generator=generator)
    predicted = softmax_readout(features[:800].cuda(), labels[:800].cuda(), features[800:].cuda())
    assert predicted.device.type == "cuda"
    on_gpu, _ = readout_accuracy(features[:800].cuda(), labels[:800].cuda(), features[800:].cuda(), labels[800:].cuda())
    on_cpu, _ = readout_accuracy(features[:800], labels[:800], features[800:], labels[800:])
    assert abs(on_gpu - on_cpu) <= 0.01
