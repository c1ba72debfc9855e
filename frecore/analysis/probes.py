"""Probes: measurements of a net taken before training and after every epoch (`fit(probe=...)`).

A probe maps (net, data, config) to a flat dict of floats (or lists of floats: the per-neuron
error); `fit` stores the values with each epoch, so diagnostics can be followed through training
(Figure 5, Figures S1-S7).
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


MLE_STEPS = 500  # Appendix A's T_e: "sufficiently large", default 500


def _probe_drive(net: LayeredFRENet, data: Dataset) -> torch.Tensor:
    """The input drive of the fixed probe batch (the first PROBE_SAMPLES test images)."""
    return net.input_drive(data.test.x[:PROBE_SAMPLES].to(net.w_in.dtype))


def _growth(net: LayeredFRENet, drive: torch.Tensor, steps: int) -> torch.Tensor:
    """lyapunov_growth from one seeded perturbation: the first T steps are the same in every probe
    that asks for T or more, so the FTMLE of Figures S1-S3 equals Figure 5's on the same net."""
    return lyapunov_growth(net, drive, steps, torch.Generator().manual_seed(0))


@torch.no_grad()
def dynamics_probe(net: LayeredFRENet, data: Dataset, cfg: RunConfig) -> dict[str, float]:
    """Spectral radius, FTMLE over the free phase's T steps, and convergence time (Appendix A).

    Convergence time is when the whole probe batch has settled (max |s[t+1] - s[t]| < 1e-6 for
    3 steps); NaN if it has not within CONVERGENCE_HORIZON steps, as in the paper's Figure 5d.
    """
    drive = _probe_drive(net, data)
    growth = _growth(net, drive, cfg.rule.free_steps)
    trace = net.relax(drive, CONVERGENCE_HORIZON, tol=None, record=True).trace
    t_conv = convergence_time(trace)
    return {
        "spectral_radius": spectral_radius(net),
        "ftmle": float(growth.mean()),
        "convergence_time": math.nan if t_conv is None else float(t_conv),
    }


PROBES: dict[str, Probe] = {"dynamics": dynamics_probe}


def lyapunov_exponents(net: LayeredFRENet, drive: torch.Tensor, T: int,
                       T_e: int = MLE_STEPS) -> tuple[float, float]:
    """(FTMLE, MLE) of Appendix A: the mean log growth of a renormalised perturbation pushed through
    the free dynamics' Jacobian, over the first T steps (FTMLE at the run's T) and over T_e steps
    (MLE), averaged over the samples of `drive` (one trajectory and perturbation each).

    The text defines MLE as the mean over all T_e steps, which we follow; the authors' code
    (models_LN.Lyapunov_EP) averages the second half only, e_sum[t_e // 2:]."""
    growth = _growth(net, drive, max(T, T_e))
    return float(growth[:T].mean()), float(growth[:T_e].mean())


def neuron_error(rule: object) -> list[float] | None:
    """The error of every neuron in the rule's last training batch, batch mean, signed, indexed from
    the first hidden layer to the output (n_1 + ... + n_L + n_out values); None when the rule kept
    no batch of a layered net.

    Hidden neuron j: s_j^beta - s_j^0 (nudged minus free), the ds its incoming weights learn from.
    Output neuron c: e_p = s_tar - softmax(logits), the error W_f learns from (the free phase's, or
    the nudged phase's under RuleConfig.readout_error='nudged'), with the hidden ds's sign: positive
    where the nudge pushes up. This is the authors' `ret_error` (models_LN.py: mean over the batch of
    e = z - y, the free minus the nudged state, and of ef = output - target), sign flipped. Their
    Figures S5-S7 draw it on a log colour scale from 1e-8 to 1: the magnitude |batch mean|, which is
    what frecore.reporting.plots.neuron_error_maps draws (a mean over the batch, not a mean of |ds|:
    errors that cancel across samples count as small, as in their code)."""
    last = getattr(rule, "last", None)
    if last is None or not isinstance(last.free.state, list) or last.free.state[0].dim() != 2:
        return None  # not a layered net's batch (conv states are feature maps)
    parts = [(b - a).mean(0) for a, b in zip(last.free.state, last.nudged.state)] + [last.e_readout.mean(0)]
    return [float(f"{v:.3g}") for v in torch.cat(parts).double().tolist()]


@torch.no_grad()
def lyapunov_probe(net, data: Dataset, cfg: RunConfig) -> dict:
    """Figures S1-S3's measurements before training and after each epoch: `ftmle` over the run's T
    free steps and `mle` over T_e = 500 (Appendix A; the same probe batch and perturbation as
    Figure 5's probe, so `ftmle` is Figure 5's). Layered nets only: a conv net gets {} (Figure S4
    needs only its accuracy). Every Table S1 run carries it.

    Appendix A takes the state sequence of the last training sample; we take the fixed probe batch
    of Figure 5 (the first 100 test images) instead, so epochs and runs are measured on the same
    inputs and the mean over 100 trajectories is not one sample's noise."""
    if not isinstance(net, LayeredFRENet):
        return {}
    ftmle, mle = lyapunov_exponents(net, _probe_drive(net, data), cfg.rule.free_steps)
    return {"ftmle": ftmle, "mle": mle}


PROBES["lyapunov"] = lyapunov_probe


@torch.no_grad()
def appendix_probe(net, data: Dataset, cfg: RunConfig, rule: object = None) -> dict:
    """lyapunov_probe plus `neuron_error`, the per-neuron error of the epoch's last training batch
    (neuron_error), stored as a list of floats rounded to 3 significant digits (650 values for
    10HL-64). Only the Table S1 cells Figures S5-S7 draw carry it (their rows' Row.probe): over the
    paper profile every cell's would be ~90 MB of CSV."""
    out: dict = lyapunov_probe(net, data, cfg)
    if not out:
        return out
    error = neuron_error(rule)
    if error is not None:
        out["neuron_error"] = error
    return out


appendix_probe.reads_last_batch = True  # fit hands it the rule, which keeps its last batch
PROBES["appendix"] = appendix_probe


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

    from frecore.model.protocol import Nudge

    target = F.one_hot(y, net.w_out.shape[0]).to(x.dtype)

    def error(s):
        return target - torch.softmax(net.logits(s[-1]), dim=1)

    if rule.cfg.hold_error:  # e_p^0, held through the nudged phase (the authors' layered code)
        error = error(free.state)

    trace = net.relax(net.input_drive(x), steps, start=free, nudge=Nudge(rule.cfg.beta_f, error),
                      record=True).trace
    return [free.state[-1]] + [s[-1] for s in trace]


PROBES["conv_cycle"] = conv_cycle_probe
