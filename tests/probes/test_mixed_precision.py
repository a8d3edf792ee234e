"""Every registered probe works under ``bf16-mixed`` (on CPU here; ``tests/test_gpu.py`` repeats it on a GPU)."""

import pytest
from helpers.device_runs import probe_once, registered_probes


@pytest.mark.parametrize("probe_name", registered_probes())
def test_every_probe_works_under_bf16_mixed_on_cpu(tmp_path, probe_name):
    assert (probe_once(tmp_path, probe_name, "cpu", precision="bf16-mixed") / ".complete").is_file()
