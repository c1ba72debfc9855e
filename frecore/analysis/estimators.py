"""How each EP estimator's update approaches its beta_f -> 0 limit and BP's gradient (beyond the
paper: RuleConfig.estimator, frecore.rules.ep).

Every estimator's hidden-weight update carries one factor beta_f (the paper's update has no
1/beta_f), so the comparable quantity is the update over beta_f; W_f's update has no such factor
and is compared as it is. Its beta_f -> 0 limit is computed exactly, for the same fixed T and K,
by forward-mode differentiation of the nudged phase with respect to beta_f at beta_f = 0
(`update_limit`): the reference the one-sided error should approach linearly and the centered
one quadratically. BP's gradient (the feedforward twin's cross-entropy gradient) is the
other reference: EP reaches it only in the weak-feedback limit (beta_i -> 0 too), so the error
against it levels off at the feedback's own bias however small beta_f is.
"""
from __future__ import annotations

import math
import time
import warnings
from dataclasses import replace
from typing import Sequence

import torch
import torch.autograd.forward_ad as fwAD
import torch.nn.functional as F

from frecore.config import RuleConfig
from frecore.model.protocol import FRENet
from frecore.rules.ep import EquilibriumPropagation, set_ep_gradients


def _is_readout(net: FRENet, w: torch.Tensor) -> bool:
    return w is net.w_out or (net.b_out is not None and w is net.b_out)


def _take_update(net: FRENet) -> list[torch.Tensor]:
    """The update EP wrote (-.grad), and the gradients cleared."""
    out = [-w.grad.clone() for w in net.weights()]
    for w in net.weights():
        w.grad = None
    return out


def seed_for_sign(sign: float) -> int:
    """The first run seed whose random-sign stream draws `sign` first (to measure one sign)."""
    probe = EquilibriumPropagation(RuleConfig(estimator="random-sign"))
    for seed in range(1000):
        probe.seed_streams([seed])
        if probe.draw_signs() == [sign]:
            return seed
    raise RuntimeError(f"no seed below 1000 draws {sign}")  # (1/2^1000)


@torch.no_grad()
def normalized_update(net: FRENet, x: torch.Tensor, y: torch.Tensor, rule: RuleConfig,
                      sign: float | None = None) -> list[torch.Tensor]:
    """The rule's update per weight (net.weights() order), hidden weights divided by beta_f.
    `sign`: random-sign's sigma for this batch (None: the stream's first draw from seed 0)."""
    ep = EquilibriumPropagation(rule)
    if sign is not None:
        ep.seed_streams([seed_for_sign(sign)])
    p = ep.phases(net, x, y)
    set_ep_gradients(net, x, p.free, p.ds, p.e_readout)
    return [u if _is_readout(net, w) else u / rule.beta_f for u, w in zip(_take_update(net), net.weights())]


@torch.no_grad()
def update_limit(net: FRENet, x: torch.Tensor, y: torch.Tensor, rule: RuleConfig) -> list[torch.Tensor]:
    """The beta_f -> 0 limit of `normalized_update` (every estimator has the same): the hidden
    weights' update built from d s^beta / d beta_f at beta_f = 0 (forward-mode AD through the nudged
    phase, exact for these T and K), W_f's from e_p at beta_f = 0."""
    ep = EquilibriumPropagation(replace(rule, estimator="one-sided"))
    dtype = net.weights()[0].dtype
    with fwAD.dual_level(), warnings.catch_warnings():
        # torch loads its forward-AD decompositions with torch.jit.script, which it has deprecated: its
        # own FutureWarning, nothing a caller can act on
        warnings.filterwarnings("ignore", message=".*torch.jit.script.* is deprecated",
                                category=FutureWarning)
        ep.beta_f = fwAD.make_dual(torch.zeros((), dtype=dtype), torch.ones((), dtype=dtype))
        p = ep.phases(net, x, y)
        tangent = [fwAD.unpack_dual(d).tangent for d in p.ds]
        free_state = [fwAD.unpack_dual(s).primal for s in p.free.state]
        e_readout = fwAD.unpack_dual(p.e_readout).primal
    free = replace(p.free, state=free_state)
    set_ep_gradients(net, x, free, tangent, e_readout)
    return _take_update(net)


def bp_direction(net: FRENet, x: torch.Tensor, y: torch.Tensor) -> list[torch.Tensor]:
    """-dL/dW of the feedforward twin (the direction EP's update should follow)."""
    with torch.enable_grad():
        loss = F.cross_entropy(net.feedforward(x)[1], y)
        grads = torch.autograd.grad(loss, net.weights())
    return [-g.detach() for g in grads]


def _flat(ts: Sequence[torch.Tensor]) -> torch.Tensor:
    return torch.cat([t.detach().flatten().double() for t in ts])


def _compare(u: Sequence[torch.Tensor], ref: Sequence[torch.Tensor],
             bp: Sequence[torch.Tensor]) -> dict[str, float]:
    """Relative error of u against the limit ref; cosine with BP; relative error against BP with u
    rescaled by the one factor that matches the limit's norm to BP's (the feedback scales' path
    product, which the paper's update leaves in)."""
    a, r, b = _flat(u), _flat(ref), _flat(bp)
    scale = float(b.norm() / r.norm())
    return {"rel_err_limit": float((a - r).norm() / r.norm()),
            "cos_bp": float(a @ b / (a.norm() * b.norm())),
            "rel_err_bp": float((a * scale - b).norm() / b.norm())}


def weight_names(net: FRENet) -> list[str]:
    """Names of net.weights() in order: W_0, W_i->j per block (layers from 1), W_f (, b_f); or
    K_i, b_i per conv layer, W_f (, b_f)."""
    if hasattr(net, "convs"):
        names = [n for i in range(len(net.convs)) for n in (f"K_{i + 1}", f"b_{i + 1}")]
    else:
        names = ["W_0"] + [f"W_{b.src + 1}->{b.dst + 1}" for b in net.topology.blocks]
    return names + ["W_f"] + (["b_f"] if net.b_out is not None else [])


def estimator_rows(net: FRENet, x: torch.Tensor, y: torch.Tensor, rule: RuleConfig, betas: Sequence[float],
                   cases: Sequence[tuple[str, float | None]] = (("one-sided", None), ("centered", None),
                                                                  ("random-sign", -1.0))) -> list[dict]:
    """One row per (estimator case, beta_f, weight); the weights' updates differ in scale (each
    feedback block on a credit path scales it by its beta_i), so each is compared on its own.
    Last, the limit's own rows (beta_f = 0): its cosine and error against BP."""
    ref = update_limit(net, x, y, rule)
    bp = bp_direction(net, x, y)
    names = weight_names(net)
    hidden = [not _is_readout(net, w) for w in net.weights()]
    rows = []
    for estimator, sign in cases:
        for beta in betas:
            u = normalized_update(net, x, y, replace(rule, beta_f=beta, estimator=estimator), sign)
            label = estimator if sign is None else f"{estimator} (sigma={sign:+g})"
            for i, name in enumerate(names):
                rows.append({"estimator": label, "beta_f": beta, "weight": name, "hidden": hidden[i],
                             **_compare([u[i]], [ref[i]], [bp[i]])})
    for i, name in enumerate(names):
        rows.append({"estimator": "limit (beta_f -> 0)", "beta_f": 0.0, "weight": name, "hidden": hidden[i],
                     **_compare([ref[i]], [ref[i]], [bp[i]])})
    return rows


def loglog_slope(betas: Sequence[float], errors: Sequence[float]) -> float:
    """Least-squares slope of log(error) against log(beta_f); NaN where an error is 0 (W_f's
    update from the free phase's error is exact at every beta_f)."""
    if min(errors) <= 0:
        return math.nan
    lx = [math.log(b) for b in betas]
    ly = [math.log(e) for e in errors]
    mx, my = sum(lx) / len(lx), sum(ly) / len(ly)
    return sum((a - mx) * (b - my) for a, b in zip(lx, ly)) / sum((a - mx) ** 2 for a in lx)


def time_per_batch(net: FRENet, x: torch.Tensor, y: torch.Tensor, rule: RuleConfig,
                   repeats: int = 3) -> float:
    """Median seconds of one compute_gradients on this batch."""
    ep = EquilibriumPropagation(rule)
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        ep.compute_gradients(net, x, y)
        times.append(time.perf_counter() - t)
    for w in net.weights():
        w.grad = None
    return sorted(times)[len(times) // 2]
