"""TensorBoard's checksums in C: the same values as its pure-Python ones, and event files its own reader accepts."""

from __future__ import annotations

import os

from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from tensorboard.compat.tensorflow_stub import pywrap_tensorflow
from tensorboard.summary.writer import record_writer
from torch.utils.tensorboard import SummaryWriter

from latent_probe.artifacts import tensorboard_crc


def test_same_checksums_as_tensorboards_pure_python_ones():
    for data in (b"", b"a", bytes(range(256)), os.urandom(10_001)):
        assert tensorboard_crc.masked_crc32c(data) == tensorboard_crc.PURE_PYTHON(data)


def test_installed_in_the_writer_and_reader_and_files_read_back(tmp_path):
    assert record_writer.masked_crc32c is tensorboard_crc.masked_crc32c
    assert pywrap_tensorflow.masked_crc32c is tensorboard_crc.masked_crc32c
    writer = SummaryWriter(str(tmp_path))
    for step in range(3):
        writer.add_scalar("probe/value", step * 1.5, global_step=step)
    writer.close()
    events = EventAccumulator(str(tmp_path))
    events.Reload()  # the reader checks every record's checksums and drops corrupt ones
    assert [e.value for e in events.Scalars("probe/value")] == [0.0, 1.5, 3.0]
