"""Projector files: binary or fast TSV tensors, sprites under the 8192 px limit, merged config, read by TensorBoard's plugin."""

import numpy as np
import pytest
import torch
from helpers.tensorboard_projector import load_with_tensorboard
from PIL import Image
from werkzeug.test import Client

from latent_probe.artifacts import projector
from latent_probe.errors import ConfigError


def test_tsv_round_trips():
    data = np.random.default_rng(0).normal(size=(5, 3)).astype(np.float32)
    parsed = np.loadtxt(projector.tensors_tsv(data).decode().splitlines(), delimiter="\t")
    np.testing.assert_allclose(parsed, data, rtol=1e-6)


def test_sprite_fits_the_projector_limit():
    thumb = projector.sprite_thumbnail_size(60000, 28, 28)
    assert 245 * thumb[0] <= projector.SPRITE_LIMIT
    big = projector.sprite_thumbnail_size(100_000, 100, 100)
    assert 317 * big[0] <= projector.SPRITE_LIMIT
    image, size = projector.sprite_image(torch.rand(10, 1, 28, 28), limit=64)
    assert image.size[0] <= 64 and size == (16, 16)


def test_config_merge_keeps_earlier_embeddings_and_tensorboard_reads_them(tmp_path):
    rng = np.random.default_rng(0)
    images = torch.rand(20, 1, 8, 8)
    meta = {"label": list("ab" * 10), "index": list(range(20))}
    projector.write_embedding(tmp_path, "probes/x/epoch=0000/projector/a", "a@0", rng.normal(size=(20, 4)), meta, images)
    projector.write_embedding(tmp_path, "probes/x/epoch=0001/projector/a", "a@1", rng.normal(size=(20, 2)), meta, images)
    projector.write_embedding(tmp_path, "probes/x/epoch=0001/projector/a", "a@1", rng.normal(size=(20, 2)), meta)
    config, plugin = load_with_tensorboard(tmp_path)
    names = {e.tensor_name: e for e in config.embeddings}
    assert set(names) == {"a@0", "a@1"}, "rewriting one embedding must keep the others"
    assert list(names["a@0"].tensor_shape) == [20, 4]
    assert list(names["a@0"].sprite.single_image_dim) == [8, 8]
    sprite = Image.open(tmp_path / names["a@0"].sprite.image_path)
    assert sprite.size == (5 * 8, 5 * 8)
    served = Client(plugin.get_plugin_apps()["/tensor"]).get("/tensor?run=.&name=a@0")
    assert served.status_code == 200
    assert np.frombuffer(served.data, dtype=np.float32).shape == (20 * 4,)
    header = (tmp_path / names["a@0"].metadata_path).read_text().splitlines()[0]
    assert header == "label\tindex"


# ----- binary tensors, read back by TensorBoard's real projector plugin ---------------------------

def served(log_dir, name):
    """The tensor TensorBoard's projector serves for ``name`` (its ``/tensor`` route), and the config entry."""
    config, plugin = load_with_tensorboard(log_dir)
    response = Client(plugin.get_plugin_apps()["/tensor"]).get(f"/tensor?run=.&name={name}")
    assert response.status_code == 200, response.data[:200]
    entry = next(e for e in config.embeddings if e.tensor_name == name)
    return np.frombuffer(response.data, dtype=np.float32).reshape(list(entry.tensor_shape)), entry


def write_raw_binary(log_dir, data):
    """Raw float32 bytes plus a config with ``tensor_shape``, bypassing the writer's check."""
    (log_dir / "t").mkdir()
    (log_dir / "t" / "tensors.bytes").write_bytes(data.astype("<f4").tobytes())
    config = projector.ProjectorConfig()
    entry = config.embeddings.add()
    entry.tensor_name, entry.tensor_path = "t", "t/tensors.bytes"
    entry.tensor_shape.extend(data.shape)
    projector.write_config(log_dir, config)


def test_binary_is_the_default_and_served_exactly(tmp_path):
    data = np.random.default_rng(1).normal(size=(300, 16)).astype(np.float32)
    projector.write_embedding(tmp_path, "p/a", "a", data)
    tensor, entry = served(tmp_path, "a")
    assert entry.tensor_path == "p/a/tensors.bytes" and list(entry.tensor_shape) == [300, 16]
    assert (tmp_path / "p/a/tensors.bytes").stat().st_size == data.nbytes
    np.testing.assert_array_equal(tensor, data)
    float64 = np.random.default_rng(2).normal(size=(7, 5))  # converted block by block, still exact in float32
    projector.write_embedding(tmp_path, "p/b", "b", float64)
    np.testing.assert_array_equal(served(tmp_path, "b")[0], float64.astype(np.float32))


# Raw bytes TensorBoard misreads as text: all zeros and small exact values (2.0 is 00 00 00 40) decode as
# ASCII; these tiny floats even spell the TSV text "1\t2\n3\t4\n", so the plugin would serve [1, 2, 3, 4].
UTF8_CASES = {
    "zeros": np.zeros((40, 8), dtype=np.float32),
    "small_exact_values": np.tile(np.array([2.0, 0.5, 3.0, 8.0], dtype=np.float32), (10, 2)),
    "bytes_spelling_tsv": np.frombuffer(b"1\t2\n3\t4\n", dtype=np.float32).reshape(1, 2),
}


@pytest.mark.parametrize("case", sorted(UTF8_CASES))
def test_bytes_that_decode_as_utf8_would_be_misread_by_tensorboard(tmp_path, case):
    data = UTF8_CASES[case]
    data.tobytes().decode("utf-8")  # the premise: the raw bytes are valid UTF-8 text
    assert not projector.tensorboard_reads_as_binary(data.tobytes())
    write_raw_binary(tmp_path, data)
    if case == "bytes_spelling_tsv":
        _, plugin = load_with_tensorboard(tmp_path)
        response = Client(plugin.get_plugin_apps()["/tensor"]).get("/tensor?run=.&name=t")
        assert np.frombuffer(response.data, dtype=np.float32).tolist() == [1, 2, 3, 4], "parsed as TSV, silently"
    else:  # the plugin's TSV reader fails on the text and never tries binary: the projector breaks
        with pytest.raises(ValueError, match="could not convert string to float"):
            load_with_tensorboard(tmp_path)


@pytest.mark.parametrize("case", sorted(UTF8_CASES))
def test_bytes_that_decode_as_utf8_are_written_as_tsv_and_served_right(tmp_path, case):
    data = UTF8_CASES[case]
    projector.write_embedding(tmp_path, "p/a", "a", data, {"i": list(range(len(data)))})
    tensor, entry = served(tmp_path, "a")
    assert entry.tensor_path == "p/a/tensors.tsv" and list(entry.tensor_shape) == list(data.shape)
    assert not (tmp_path / "p/a/tensors.bytes").exists()
    assert entry.metadata_path == "p/a/metadata.tsv"
    np.testing.assert_allclose(tensor, data, rtol=1e-6)  # TSV keeps 7 significant digits


def test_invalid_utf8_late_in_the_payload_still_decides_binary(tmp_path):
    # The first invalid byte (1.0 = 00 00 80 3f) is past the 4 KiB first window with no newline before it.
    data = np.zeros((3, 1000), dtype=np.float32)
    data[2, 999] = 1.0
    projector.write_embedding(tmp_path, "p/a", "a", data)
    tensor, entry = served(tmp_path, "a")
    assert entry.tensor_path == "p/a/tensors.bytes"
    np.testing.assert_array_equal(tensor, data)


def test_a_newline_before_the_first_invalid_byte_means_tsv():
    # TensorFlow's gfile decodes and parses line by line: a decodable first line is parsed as numbers.
    assert projector.tensorboard_reads_as_binary(b"\x00\x00\x80\x3f\n\x00\x00\x00")
    assert not projector.tensorboard_reads_as_binary(b"\x00\x0a\x00\x00\x00\x00\x80\x3f")
    assert not projector.tensorboard_reads_as_binary(b"")


def test_tsv_format_on_request(tmp_path):
    data = np.random.default_rng(3).normal(size=(50, 6)).astype(np.float32)
    projector.write_embedding(tmp_path, "p/a", "a", data, tensor_format="binary")
    projector.write_embedding(tmp_path, "p/a", "a", data, tensor_format="tsv")
    tensor, entry = served(tmp_path, "a")
    assert entry.tensor_path == "p/a/tensors.tsv" and list(entry.tensor_shape) == [50, 6]
    assert sorted(p.name for p in (tmp_path / "p/a").iterdir()) == ["tensors.tsv"], "no stale tensors.bytes"
    np.testing.assert_allclose(tensor, data, rtol=1e-6)


def test_unknown_tensor_format_is_one_config_error(tmp_path):
    with pytest.raises(ConfigError, match="unknown tensor_format 'npy'; valid choices: .*binary") as error:
        projector.write_embedding(tmp_path, "p/a", "a", np.zeros((2, 2)), tensor_format="npy")
    assert "tsv" in str(error.value) and "\n" not in str(error.value)
    assert not (tmp_path / "p").exists()
