"""Probes firing at the same moment on the same split share one collection pass, and get the values they would alone."""

import numpy as np
import pytest
import pytorch_lightning as pl
import torch
from helpers.probe_models import TinyDigitNet

import latent_probe.probing.shared_pass as shared_pass
from latent_probe.data import DigitsDataModule
from latent_probe.probes import EmbeddingDumper, LayerTransformRecorder, LinearProbe


@pytest.fixture
def passes(monkeypatch):
    """The collection passes run (a spy: the real function still runs), as (split, rows, layers)."""
    seen = []
    real = shared_pass.sample_activations

    def spy(trainer, pl_module, spec, layers, split, max_samples, *args, **kwargs):
        result = real(trainer, pl_module, spec, layers, split, max_samples, *args, **kwargs)
        seen.append((split, len(result), tuple(layers)))
        return result

    monkeypatch.setattr(shared_pass, "sample_activations", spy)
    return seen


def fit(folder, probes):
    """One short epoch of the digits net with ``probes`` firing at fit_end."""
    torch.manual_seed(0)
    trainer = pl.Trainer(max_epochs=1, limit_train_batches=3, limit_val_batches=0, accelerator="cpu", default_root_dir=str(folder),
                         enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False, callbacks=probes,
                         logger=pl.loggers.TensorBoardLogger(str(folder), name="run", version=0))
    trainer.fit(TinyDigitNet(), datamodule=DigitsDataModule(batch_size=32))
    return folder / "run" / "version_0" / "probes"


def dumper(**kwargs):
    return EmbeddingDumper(layers=["hidden_act", "bottleneck_act"], split="val", max_samples=100, projector=False, pictures=False,
                           **kwargs)


def test_probes_at_one_moment_share_one_pass_per_split(tmp_path, passes):
    linear = LinearProbe(split="val", fit_split="train", max_samples=200)
    out = fit(tmp_path / "together", [dumper(), linear])
    assert sorted(split for split, _, _ in passes) == ["train", "val"], passes
    val = next(p for p in passes if p[0] == "val")
    assert val[1] == min(200, len(DigitsDataModule().dataset("val"))), "the pass covers the largest sample wanted"
    assert set(val[2]) == {"hidden_act", "bottleneck_act"}
    passes.clear()
    alone = fit(tmp_path / "alone", [dumper()])
    assert len(passes) == 1 and passes[0][1] == 100
    with np.load(out / "embedding_dumper" / "fit_end" / "embeddings.npz") as one, \
            np.load(alone / "embedding_dumper" / "fit_end" / "embeddings.npz") as two:
        assert sorted(one.files) == sorted(two.files)
        for key in one.files:
            np.testing.assert_array_equal(one[key], two[key], err_msg=key)


def test_a_probe_the_pass_did_not_cover_gets_its_own(tmp_path, passes):
    # Another seed selects other rows: no sharing, and each probe still gets exactly its own sample.
    fit(tmp_path, [dumper(), dumper(seed=1, name="other_seed")])
    assert [rows for _, rows, _ in passes] == [100, 100]


def test_inputs_are_kept_for_a_partner_that_needs_them(tmp_path, passes):
    recorder = LayerTransformRecorder(layers=["hidden", "hidden_act", "bottleneck", "bottleneck_act"], split="val", max_samples=50,
                                      frames_per_step=1)
    fit(tmp_path, [LinearProbe(split="val", fit_split="val", max_samples=50), recorder])
    assert len(passes) == 1 and (tmp_path / "run/version_0/probes/layer_transform_recorder/fit_end/.complete").is_file()
