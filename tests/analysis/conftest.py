"""Fixtures of the numerics tests."""

import pytest
import torch


@pytest.fixture
def one_thread():
    """Torch on one thread: on a shared 2-core machine an OpenMP thread waiting for a busy core makes these thousands of
    small products up to 20x slower."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
