"""Every probe option checked before work starts: finite numbers, integers in range, and the memory an option implies
(pictures, GIF frames, grids, passes, input files) refused above a limit the error states."""

from __future__ import annotations

import math

import numpy as np
import pytest
from bomb_files import npy_declaring, png_declaring
from helpers.probe_models import TinyDigitNet
from PIL import Image

from latent_probe.data import DigitsDataModule
from latent_probe.data.toy2d import Toy2DDataModule
from latent_probe.errors import MEMORY_LIMIT, ConfigError, check_memory, check_range, format_bytes
from latent_probe.models.deep_mlp import DeepMLP
from latent_probe.probes import EmbeddingDumper, FilterTiler, InfluenceMapper, LayerTransformRecorder, LinearProbe
from latent_probe.probes.influence.image_files import read_image
from latent_probe.probing import prepare_probes

NAN, INF = float("nan"), float("inf")


@pytest.mark.parametrize("value", [NAN, INF, -INF])
def test_check_range_refuses_numbers_that_are_not_finite(value):
    with pytest.raises(ConfigError, match=f"lr must be a finite number, got {value!r}"):
        check_range("lr", value)
    check_range("lr", 1e300)


def test_memory_is_said_in_binary_units_with_the_limit():
    assert [format_bytes(n) for n in (512, 1536, 2**31, 149 * 2**30 + 1)] == ["512 bytes", "1.5 KiB", "2 GiB", "149 GiB"]
    check_memory("zoom", 3, MEMORY_LIMIT, "one picture")
    with pytest.raises(ConfigError, match="^zoom 9 would allocate 3 GiB for one picture; the limit is 2 GiB$"):
        check_memory("zoom", 9, 3 * 2**30, "one picture")


@pytest.mark.parametrize(("probe", "options", "message"), [
    (LayerTransformRecorder, {"boundary_resolution": 200_000}, "boundary_resolution 200000 would allocate 745 GiB for the decision"),
    (LayerTransformRecorder, {"frames_per_step": 10**7}, "frames_per_step 10000000 with hold 2 .* for the GIF; the limit is 2 GiB"),
    (LayerTransformRecorder, {"hold": 10**7}, "with hold 10000000 .* the limit is 2 GiB"),
    (LayerTransformRecorder, {"frame_ms": 10**6}, "frame_ms must be >= 10 and <= 655350, got 1000000"),
    (LayerTransformRecorder, {"boundary_level": NAN}, "boundary_level must be a finite number, got nan"),
    (EmbeddingDumper, {"active_threshold": INF}, "active_threshold must be a finite number, got inf"),
    (InfluenceMapper, {"reference": NAN}, "reference must be a finite number, got nan"),
    (InfluenceMapper, {"reference": 2.0}, "reference must be >= 0 and <= 1, got 2.0"),
    (InfluenceMapper, {"ig_steps": 10**9}, "ig_steps must be >= 1 and <= 10000, got 1000000000"),
    (LinearProbe, {"seed": -1}, "seed must be >= 0 and <= 4294967295, got -1"),
    (LinearProbe, {"seed": 2**40}, "seed must be >= 0 and <= 4294967295"),
])
def test_options_are_refused_when_the_probe_is_made(probe, options, message):
    with pytest.raises(ConfigError, match=message):
        probe(**options)


def digits(probe) -> None:
    prepare_probes([probe], TinyDigitNet(), DigitsDataModule().data_spec())


@pytest.mark.parametrize(("options", "message"), [
    ({"zoom": 100_000}, r"zoom 100000 with spacing 1 \(16 tiles of 8x8\) would allocate 140 TiB for one picture of 8,000,011 x 1,600,003"),
    ({"spacing": 10**7}, r"zoom 4 with spacing 10000000 .* the limit is 2 GiB"),
    ({"zoom": 4000, "max_tiles": 2}, r"zoom 4000 with spacing 1 \(2 tiles of 8x8\) would allocate 23 GiB"),
])
def test_filter_pictures_are_measured_at_setup(options, message):
    with pytest.raises(ConfigError, match=f"probe 'filter_tiler': {message}"):
        digits(FilterTiler(layers=["hidden"], **options))
    digits(FilterTiler(layers=["hidden"], zoom=100))  # 16 tiles of 800 px: 147 MiB, under the limit


def test_influence_passes_are_measured_at_setup():
    with pytest.raises(ConfigError, match=r"probe 'influence_mapper': chunk_size 100000000 would allocate 30 GiB for one pass"):
        digits(InfluenceMapper(layers=["hidden"], chunk_size=10**8))
    with pytest.raises(ConfigError, match=r"image_shape \[1, 100000, 100000\] would allocate 37 GiB for one float32 image"):
        digits(InfluenceMapper(layers=["hidden"], image_shape=[1, 100_000, 100_000]))
    digits(InfluenceMapper(layers=["hidden"], chunk_size=10**6, n_images=10**6))  # 10^6 rows of 80 floats; n_images capped by the data


def test_gif_frames_are_counted_with_the_real_steps_at_setup():
    """1000 frames a step pass for 2 steps (the least there can be) but not for the 25 steps of a deep MLP (24 modules and the input)."""
    probe = LayerTransformRecorder(frames_per_step=1000, hold=0)
    with pytest.raises(ConfigError, match=r"frames_per_step 1000 with hold 0 \(24,001 frames of 25 steps\) would allocate 12 GiB"):
        prepare_probes([probe], DeepMLP(width=3, depth=10), Toy2DDataModule(n_samples=40).data_spec())
    prepare_probes([LayerTransformRecorder(frames_per_step=1000, gif=False)], DeepMLP(width=3, depth=10),
                   Toy2DDataModule(n_samples=40).data_spec())


def test_image_files_are_measured_before_decoding(tmp_path, monkeypatch):
    Image.new("L", (28, 28), 255).save(tmp_path / "white.png")
    np.save(tmp_path / "grey.npy", np.full((28, 28), 0.5, np.float32))
    assert read_image(tmp_path / "white.png", (1, 28, 28)).min() == 1 and read_image(tmp_path / "grey.npy", (1, 28, 28)).max() == 0.5
    monkeypatch.setattr(Image.Image, "convert", lambda *args: pytest.fail("a refused image was decoded"))
    with pytest.raises(ConfigError, match=r"'.*bomb.png' is refused before decoding: .*10000000000 pixels.* exceeds limit"):
        read_image(png_declaring(tmp_path / "bomb.png", 100_000, 100_000), (1, 28, 28))
    with pytest.raises(ConfigError, match=r"'.*wide.png' has shape \[3, 9000, 9000\]; the model takes images of shape \[3, 28, 28\]"):
        read_image(png_declaring(tmp_path / "wide.png", 9000, 9000), (3, 28, 28))
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", None)  # as a program that imports us may have set: our limit still holds
    with pytest.raises(ConfigError, match=r"of shape \[3, 20000, 20000\] would allocate 4.5 GiB for its decoded pixels; the limit"):
        read_image(png_declaring(tmp_path / "big.png", 20_000, 20_000), (3, 28, 28))


@pytest.mark.parametrize(("shape", "descr", "message"), [
    ((100_000, 100_000), "<f4", r"of shape \[100000, 100000\] would allocate 37 GiB for its decoded pixels; the limit is 2 GiB"),
    ((2**40,), "|u1", r"of shape \[1099511627776\] would allocate 1 TiB"),
    ((28, 29), "<f8", r"has shape \[28, 29\]; the model takes images of shape \[1, 28, 28\]"),
    ((28, 28), "<f4", r"cannot read input image .* as a numeric .npy array"),  # a header that promises data the file lacks
    ((28, 28), "|O", r"as a numeric .npy array: its dtype is object, not a number"),
])
def test_npy_headers_are_read_before_the_array(tmp_path, shape, descr, message):
    path = npy_declaring(tmp_path / "input.npy", shape, descr)
    assert path.stat().st_size <= 128 and math.prod(shape) >= 784
    with pytest.raises(ConfigError, match=message):
        read_image(path, (1, 28, 28))
