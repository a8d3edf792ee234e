"""A picture a probe writes is logged to TensorBoard as the very PNG of its file (encoded once), readable by TensorBoard."""

import numpy as np
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from torch.utils.tensorboard import SummaryWriter

from latent_probe.artifacts.writer import MomentWriter


def test_png_goes_to_tensorboard_as_written(tmp_path):
    picture = np.random.default_rng(0).integers(0, 256, size=(30, 40, 3), dtype=np.uint8)
    with SummaryWriter(str(tmp_path)) as tensorboard:
        out = MomentWriter(tmp_path, "probe", "fit_end", step=7, tensorboard=tensorboard)
        written = out.png("picture.png", picture, tag="probe/picture")
        out.image("probe/grey", picture[..., 0])
    events = EventAccumulator(str(tmp_path)).Reload()
    [logged] = events.Images("probe/picture")
    assert (logged.step, logged.width, logged.height) == (7, 40, 30)
    assert logged.encoded_image_string == written.read_bytes()
    [grey] = events.Images("probe/grey")
    assert (grey.width, grey.height) == (40, 30)
