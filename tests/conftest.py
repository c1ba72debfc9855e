"""Seeded tiny fixtures shared by the tests."""
from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

from frecore.config import NetConfig
from frecore.model.layered import LayeredFRENet
from frecore.model.build import build_fre_net

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def mnist_root() -> str:
    """The MNIST folder CI points FRECORE_DATA at; a clear failure when it is not set up."""
    root = os.environ.get("FRECORE_DATA")
    assert root, "set FRECORE_DATA to the folder holding MNIST/raw (CI: ../shared/data)"
    assert (Path(root) / "MNIST" / "raw").is_dir(), f"no MNIST/raw under FRECORE_DATA={root}"
    return str(Path(root).resolve())


def make_net(hidden=(12, 10), n_in=8, n_out=4, seed=0, **kw) -> LayeredFRENet:
    return build_fre_net(NetConfig(hidden=tuple(hidden), **kw), n_in, n_out,
                         torch.Generator().manual_seed(seed))


def make_batch(n=6, n_in=8, n_out=4, seed=1, dtype=torch.float32) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(n, n_in, generator=g, dtype=torch.float64).to(dtype)
    y = torch.randint(0, n_out, (n,), generator=g)
    return x, y
