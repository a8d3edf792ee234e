"""Atomic artifact writes: the old file or the new one, never a partial file or a stray temp."""

import numpy as np
import pytest

from latent_probe.artifacts import files as artifacts


def test_atomic_write_replaces_and_leaves_no_temp(tmp_path):
    target = tmp_path / "a" / "b.json"
    artifacts.write_json_atomic(target, {"x": np.float32(1.5), "y": np.arange(2)})
    artifacts.write_json_atomic(target, {"x": 2})
    assert target.read_text().strip() == '{\n  "x": 2\n}'
    assert [p.name for p in target.parent.iterdir()] == ["b.json"]


def test_failed_write_keeps_the_old_file(tmp_path, monkeypatch):
    target = tmp_path / "m.json"
    artifacts.write_json_atomic(target, {"ok": True})
    with pytest.raises(TypeError):
        artifacts.write_json_atomic(target, {"bad": object()})
    assert target.read_text().strip() == '{\n  "ok": true\n}'

    def disk_full(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(artifacts.os, "fsync", disk_full)
    with pytest.raises(OSError, match="No space left"):
        artifacts.write_bytes_atomic(target, b"new content")
    assert target.read_text().strip() == '{\n  "ok": true\n}'
    assert [p.name for p in tmp_path.iterdir()] == ["m.json"]


def test_npz_keys_keep_module_paths(tmp_path):
    artifacts.write_npz_atomic(tmp_path / "e.npz", {"encoder.mean": np.ones((2, 3))})
    with np.load(tmp_path / "e.npz", allow_pickle=False) as loaded:
        assert loaded["encoder.mean"].shape == (2, 3)


def test_moment_folder_layout(tmp_path):
    from latent_probe.artifacts.writer import moment_dir
    from latent_probe.probing import epoch_moment

    assert moment_dir(tmp_path, "embedding_dumper", epoch_moment(4)) == (
        tmp_path / "probes" / "embedding_dumper" / "epoch=0004"
    )


def test_artifacts_get_the_usual_file_mode(tmp_path):
    target = artifacts.write_bytes_atomic(tmp_path / "x.bin", b"1")
    (tmp_path / "plain.bin").write_bytes(b"1")
    assert target.stat().st_mode & 0o777 == (tmp_path / "plain.bin").stat().st_mode & 0o777
