"""Memory a run will need, checked before anything is allocated.

A net too large for the device (say `--hidden 1000000000`) should stop with one message before
torch tries to allocate it, not with an allocator traceback minutes later. The estimate counts
what dominates: every weight matrix with its feedback, gradient and two optimiser moments, and
a few copies of the batch's states; it is a lower bound of the true footprint.
"""
from __future__ import annotations

import os

import torch

from frecore.config import ConfigError, RunConfig
from frecore.model.build import sizes

GiB = 2**30
STATE_COPIES = 4  # states live in a few copies at once: current, next, free-phase and nudged ends


def estimated_bytes(cfg: RunConfig, input_shape: tuple[int, ...], n_classes: int) -> int:
    """A lower bound on the bytes one training step of `cfg` holds (weights, optimiser, states)."""
    itemsize = 8 if cfg.net.dtype == "float64" else 4
    params, units = sizes(cfg.net, input_shape, n_classes)
    per_param = 5  # weight, feedback matrix, gradient, two Adam moments
    return itemsize * (per_param * params + STATE_COPIES * cfg.optim.batch_size * units)


def available_bytes(device: torch.device) -> int | None:
    """Free memory on `device` (None when unknown)."""
    if device.type == "cuda":
        return torch.cuda.mem_get_info(device)[0]
    try:
        with open("/proc/meminfo") as f:
            info = dict(line.split(":", 1) for line in f)
        return int(info["MemAvailable"].split()[0]) * 1024
    except (OSError, KeyError, ValueError):
        try:
            return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        except (ValueError, OSError, AttributeError):
            return None


def check_fits(cfg: RunConfig, input_shape: tuple[int, ...], n_classes: int, device: torch.device) -> None:
    """ConfigError when the run cannot fit in the device's free memory."""
    need = estimated_bytes(cfg, input_shape, n_classes)
    free = available_bytes(device)
    if free is not None and need > free:
        raise ConfigError(f"this net needs at least {need / GiB:.1f} GiB (weights, optimiser state and a "
                          f"batch's states) but {device.type} has {free / GiB:.1f} GiB free; use smaller "
                          f"layers or batches")
