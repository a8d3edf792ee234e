"""Probes due at the same moment share one forward pass per split (counted on the model itself), get the values they
would get alone, and the sharing does not depend on the order the probes are given in."""

import numpy as np
from helpers.probe_fits import fit_with_probes

from latent_probe.data import DigitsDataModule
from latent_probe.probes import EmbeddingDumper, LayerTransformRecorder, LinearProbe


def fit(folder, probes):
    """One short epoch of the digits net with ``probes``; returns (probes folder, rows the probes' passes forwarded)."""
    model, out = fit_with_probes(folder, probes)
    return out, sum(model.probe_rows[1:])  # [0] is the setup pass's 2 rows


def dumper(**kwargs):
    return EmbeddingDumper(layers=["hidden_act", "bottleneck_act"], split="val", max_samples=100, projector=False, pictures=False,
                           **kwargs)


def val_size():
    return len(DigitsDataModule().dataset("val"))


def test_probes_at_one_moment_share_one_pass_per_split(tmp_path):
    linear = LinearProbe(split="val", fit_split="train", max_samples=200)
    out, rows = fit(tmp_path / "together", [dumper(), linear])
    # One pass over val (the largest sample wanted) and one over train, each again at the initial weights (the linear
    # probe's untrained baseline): the dumper shares the trained passes.
    assert rows == 2 * (min(200, val_size()) + 200)
    _, rows = fit(tmp_path / "trained only", [dumper(), LinearProbe(split="val", fit_split="train", max_samples=200,
                                                                    untrained_baseline=False)])
    assert rows == min(200, val_size()) + 200, "one pass over val (the largest sample wanted) and one over train"
    alone, rows_alone = fit(tmp_path / "alone", [dumper()])
    assert rows_alone == 100
    with np.load(out / "embedding_dumper" / "fit_end" / "embeddings.npz") as one, \
            np.load(alone / "embedding_dumper" / "fit_end" / "embeddings.npz") as two:
        assert sorted(one.files) == sorted(two.files)
        for key in one.files:
            np.testing.assert_array_equal(one[key], two[key], err_msg=key)


def test_sharing_does_not_depend_on_the_order_of_the_probes(tmp_path):
    _, forward = fit(tmp_path / "a", [dumper(), LinearProbe(split="val", fit_split="val", max_samples=150, untrained_baseline=False)])
    _, backward = fit(tmp_path / "b", [LinearProbe(split="val", fit_split="val", max_samples=150, untrained_baseline=False), dumper()])
    assert forward == backward == 150


def test_a_probe_the_pass_did_not_cover_gets_its_own(tmp_path):
    # Another seed selects other rows: no sharing, and each probe still gets exactly its own sample.
    _, rows = fit(tmp_path, [dumper(), dumper(seed=1, name="other_seed")])
    assert rows == 200


def test_inputs_are_kept_for_a_partner_that_needs_them(tmp_path):
    recorder = LayerTransformRecorder(layers=["hidden", "hidden_act", "bottleneck", "bottleneck_act"], split="val", max_samples=50,
                                      frames_per_step=1)
    _, rows = fit(tmp_path, [LinearProbe(split="val", fit_split="val", max_samples=50, untrained_baseline=False), recorder])
    assert rows == 50 and (tmp_path / "run/version_0/probes/layer_transform_recorder/fit_end/.complete").is_file()


def test_the_last_epoch_and_fit_end_are_computed_once(tmp_path):
    probe = LinearProbe(split="val", fit_split="val", max_samples=60, every_n_epochs=1, untrained_baseline=False)
    out, rows = fit(tmp_path, [probe])
    assert rows == 60, "epoch=0000 and fit_end are the same step: one pass"
    import json
    first = json.loads((out / "linear_probe" / "epoch=0000" / "metrics.json").read_text())
    again = json.loads((out / "linear_probe" / "fit_end" / "metrics.json").read_text())
    assert first["accuracy"] == again["accuracy"]
    manifest = json.loads((out / "linear_probe" / "fit_end" / "manifest.json").read_text())
    assert manifest["same_firing_as"] == "epoch=0000"
