"""GPU checks: skipped without CUDA (CI has none); run them on a GPU machine with `pytest -m gpu`."""

import json

import numpy as np
import pytest
import torch
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
