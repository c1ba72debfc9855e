"""Probes: measurements of a net taken before training and after every epoch (`fit(probe=...)`).

A probe maps (net, data, config) to a flat dict of floats; `fit` stores the values with each
epoch, so diagnostics can be followed through training (Figure 5, Figures S1-S3).
"""
from __future__ import annotations

import math
from typing import Callable

import torch

from frecore.config import RunConfig
from frecore.data import Dataset
from frecore.dynamics import convergence_time, lyapunov_growth, relax, spectral_radius
from frecore.nets import LayeredFRENet

Probe = Callable[[LayeredFRENet, Dataset, RunConfig], dict[str, float]]

PROBE_SAMPLES = 100  # the first test samples: a fixed probe batch, the same for every epoch and run
CONVERGENCE_HORIZON = 500  # steps a free phase may take to settle before we call it unsettled (NaN)


@torch.no_grad()
def dynamics_probe(net: LayeredFRENet, data: Dataset, cfg: RunConfig) -> dict[str, float]:
    """Spectral radius, FTMLE over the free phase's T steps, and convergence time (Appendix A).

    Convergence time is when the whole probe batch has settled (max |s[t+1] - s[t]| < 1e-6 for
    3 steps); NaN if it has not within CONVERGENCE_HORIZON steps, as in the paper's Figure 5d.
    """
    x = data.test.x[:PROBE_SAMPLES].to(net.w_in.dtype)
    drive = net.input_drive(x)
    growth = lyapunov_growth(net, drive, cfg.rule.free_steps, torch.Generator().manual_seed(0))
    trace = relax(net, drive, CONVERGENCE_HORIZON, tol=None, record=True).trace
    t_conv = convergence_time(trace)
    return {
        "spectral_radius": spectral_radius(net),
        "ftmle": float(growth.mean()),
        "convergence_time": math.nan if t_conv is None else float(t_conv),
    }


PROBES: dict[str, Probe] = {"dynamics": dynamics_probe}
