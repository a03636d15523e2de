"""Fixtures shared by the training-setup tests."""

from __future__ import annotations

import pytest
import torch.distributed as dist


@pytest.fixture
def world_of_one():
    """A gloo process group of this process alone, gone again after the test."""
    dist.init_process_group("gloo", store=dist.HashStore(), rank=0, world_size=1)
    try:
        yield
    finally:
        dist.destroy_process_group()
