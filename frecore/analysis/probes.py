"""Probes: measurements of a net taken before training and after every epoch (`fit(probe=...)`).

A probe maps (net, data, config) to a flat dict of floats; `fit` stores the values with each
epoch, so diagnostics can be followed through training (Figure 5, Figures S1-S3).
"""
from __future__ import annotations

import math
from typing import Callable

import torch

from frecore.config import RunConfig
from frecore.training.data import Dataset
from frecore.model.dynamics import convergence_time, lyapunov_growth, spectral_radius
from frecore.model.layered import LayeredFRENet

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
    trace = net.relax(drive, CONVERGENCE_HORIZON, tol=None, record=True).trace
    t_conv = convergence_time(trace)
    return {
        "spectral_radius": spectral_radius(net),
        "ftmle": float(growth.mean()),
        "convergence_time": math.nan if t_conv is None else float(t_conv),
    }


PROBES: dict[str, Probe] = {"dynamics": dynamics_probe}


def _cosine(a: list[torch.Tensor], b: list[torch.Tensor]) -> float:
    """Cosine of two lists of tensors as one flat vector each (alignment.cosine: float64, no clamping)."""
    from frecore.analysis.alignment import cosine

    return cosine(torch.cat([t.flatten() for t in a]), torch.cat([t.flatten() for t in b]))


@torch.no_grad()
def conv_cycle_probe(net, data: Dataset, cfg: RunConfig) -> dict[str, float]:
    """Does the conv nudged phase settle, and how well does EP's update follow BP's gradient?

    On the fixed probe batch: the share of top-layer units still changing at the nudged phase's
    last step, max |s[K] - s[K-2]| (0 with change: a period-2 cycle), and the cosine of EP's update
    (all weights, one vector) with BP's -gradient of the feedforward twin, after K and K + 1 nudged
    steps: a cycle makes s^beta, hence the update, depend on K's parity.
    """
    from dataclasses import replace

    import torch.nn.functional as F

    from frecore.rules.ep import EquilibriumPropagation, set_ep_gradients

    x, y = data.test.x[:PROBE_SAMPLES].to(net.w_out.dtype), data.test.y[:PROBE_SAMPLES]
    weights = net.weights()
    with torch.enable_grad():
        loss = F.cross_entropy(net.feedforward(x)[1], y)
        bp = torch.autograd.grad(loss, weights)
    out: dict[str, float] = {}
    for k, name in ((cfg.rule.nudge_steps, "K"), (cfg.rule.nudge_steps + 1, "K+1")):
        rule = EquilibriumPropagation(replace(cfg.rule, nudge_steps=k))
        p = rule.phases(net, x, y)
        free, nudged = p.free, p.nudged
        set_ep_gradients(net, x, free, p.ds, p.e_readout)
        out[f"cosine_ep_bp_{name}"] = _cosine([w.grad for w in weights], bp)
        for w in weights:
            w.grad = None
        if name == "K":
            top, before = nudged.state[-1], nudged.previous[-1]
            out["share_changing"] = float(((top - before).abs() > 1e-6).float().mean())
            out["mean_step_change"] = float((top - before).abs().mean())
            out["mean_delta"] = float((top - free.state[-1]).abs().mean())
            tops = _nudged_tops(net, rule, x, y, free, k)
            out["period2_residual"] = float((tops[-1] - tops[-3]).abs().max()) if k >= 2 else math.nan
    return out


def _nudged_tops(net, rule, x: torch.Tensor, y: torch.Tensor, free, steps: int) -> list[torch.Tensor]:
    """The top layer after each nudged step (the free state first), with the error rules/ep forms."""
    import torch.nn.functional as F

    drive = net.input_drive(x)
    target = F.one_hot(y, net.w_out.shape[0]).to(x.dtype)
    frozen = net.pool_indices_of(free.state) if net.cfg.pool_indices == "free" else None

    def error(s):
        return target - torch.softmax(net.logits(s[-1]), dim=1)

    tops, state = [free.state[-1]], free
    for _ in range(steps):
        state = net.relax(drive, 1, start=state, error=error, beta_f=rule.cfg.beta_f, frozen_indices=frozen)
        tops.append(state.state[-1])
    return tops


PROBES["conv_cycle"] = conv_cycle_probe
