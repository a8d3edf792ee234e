"""A firing's pictures encoded on the writer's worker thread: the same files and TensorBoard images as written in line,
the caller free to reuse its buffer, every error raised at ``flush``, and the manifest written only after them all."""

import json

import numpy as np
import pytest
from PIL import Image
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from torch.utils.tensorboard import SummaryWriter

from latent_probe.artifacts.writer import MomentWriter, is_complete


def pictures(count: int) -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    return [rng.integers(0, 256, size=(40 + i, 50, 3), dtype=np.uint8) for i in range(count)]


def test_background_pictures_match_in_line_ones_and_reach_tensorboard_in_order(tmp_path):
    drawn = pictures(6)
    with SummaryWriter(str(tmp_path / "tb")) as tensorboard:
        out = MomentWriter(tmp_path / "bg", "probe", "fit_end", step=3, tensorboard=tensorboard, background=True)
        buffer = np.zeros_like(drawn[0])
        for i, picture in enumerate(drawn[:3]):
            buffer[...] = picture[: buffer.shape[0]]
            out.png(f"p{i}.png", buffer, tag=f"probe/p{i}")  # the same buffer, redrawn at once: each file keeps its own
        for i, picture in enumerate(drawn[3:], 3):
            out.png(f"p{i}.png", picture, tag=f"probe/p{i}")
        out.gif("frames.gif", [drawn[3], 255 - drawn[3], drawn[3] // 2])
        out.flush()
        out.mark_complete()
        out.close()
    inline = MomentWriter(tmp_path / "inline", "probe", "fit_end", step=3)
    for i, picture in enumerate(drawn):
        inline.png(f"p{i}.png", picture if i >= 3 else picture[: drawn[0].shape[0]])
    for i in range(6):
        assert out.path(f"p{i}.png").read_bytes() == inline.path(f"p{i}.png").read_bytes()
    assert np.array_equal(np.asarray(Image.open(out.path("p1.png"))), drawn[1][:40])
    assert Image.open(out.path("frames.gif")).n_frames == 3
    manifest = json.loads(out.path("manifest.json").read_text())
    assert manifest["files"] == ["frames.gif", *[f"p{i}.png" for i in range(6)]] and is_complete(out.dir)
    events = EventAccumulator(str(tmp_path / "tb")).Reload()
    assert [tag for tag in events.Tags()["images"]] == [f"probe/p{i}" for i in range(6)]
    assert events.Images("probe/p4")[0].encoded_image_string == out.path("p4.png").read_bytes()


def test_an_error_on_the_worker_is_raised_at_flush_and_nothing_is_marked_complete(tmp_path):
    out = MomentWriter(tmp_path, "probe", "fit_end", step=0, background=True)
    out.path("blocked").parent.mkdir(parents=True)
    out.path("blocked").write_text("a file where a folder should be")
    out.png("fine.png", pictures(1)[0])
    out.png("blocked/picture.png", pictures(1)[0])  # returns at once; the write fails on the worker
    with pytest.raises(OSError):
        out.flush()
    out.close()
    assert out.path("fine.png").is_file() and not is_complete(out.dir)
