"""Projector files: fast TSV, sprites under the 8192 px limit, merged config, read by TensorBoard's plugin."""

import numpy as np
import torch
from helpers.tensorboard_projector import load_with_tensorboard
from PIL import Image
from werkzeug.test import Client

from latent_probe.artifacts import projector


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
