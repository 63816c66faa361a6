"""Fixtures of the application tests."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="module", autouse=True)
def _one_torch_thread():
    """One intra-op thread per module: identical results, and much faster when the two
    CI cores are shared with other work (torch's threads then wait on each other)."""
    import torch

    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)
