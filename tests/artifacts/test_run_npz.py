"""A run folder's .npz read as data: arrays back, never an object array unpickled, no member unpacked past the cap,
nothing read through a symlink leading out of the run."""

from __future__ import annotations

import numpy as np
import pytest

from latent_probe.artifacts.run_npz import read_run_npz
from latent_probe.errors import ConfigError


def test_arrays_come_back(tmp_path):
    np.savez_compressed(tmp_path / "a.npz", values=np.arange(6, dtype=np.float16).reshape(2, 3), names=np.array(["x", "y"]))
    arrays = read_run_npz(tmp_path, tmp_path / "a.npz", cap=1 << 20)
    np.testing.assert_array_equal(arrays["values"], np.arange(6, dtype=np.float16).reshape(2, 3))
    assert arrays["names"].tolist() == ["x", "y"]


def test_an_object_array_is_refused_not_unpickled(tmp_path):
    np.savez(tmp_path / "a.npz", evil=np.array([object()], dtype=object))
    with pytest.raises(ConfigError, match="'.*a.npz' is not a readable .npz .*allow_pickle"):
        read_run_npz(tmp_path, tmp_path / "a.npz", cap=1 << 20)


def test_a_member_unpacking_past_the_cap_is_refused(tmp_path):
    np.savez_compressed(tmp_path / "bomb.npz", zeros=np.zeros(1 << 22, dtype=np.uint8))  # 4 MB of zeros in a few KB
    assert (tmp_path / "bomb.npz").stat().st_size < 1 << 16
    with pytest.raises(ConfigError, match="'zeros.npy' of 4,194,432 bytes unpacked, over the cap of 1,048,576"):
        read_run_npz(tmp_path, tmp_path / "bomb.npz", cap=1 << 20)


def test_a_symlink_out_of_the_run_is_not_followed(tmp_path):
    run, outside = tmp_path / "run", tmp_path / "outside.npz"
    run.mkdir()
    np.savez(outside, secret=np.arange(3))
    (run / "a.npz").symlink_to(outside)
    with pytest.raises(ConfigError, match="symlink leading outside the run"):
        read_run_npz(run, run / "a.npz", cap=1 << 20)
