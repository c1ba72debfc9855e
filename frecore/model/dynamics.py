"""Diagnostics of the layered net's dynamics (paper Appendix A, Figures 2 and 5): spectral radius,
step changes, convergence time, Lyapunov growth. Relaxation itself is each net's `relax`."""
from __future__ import annotations


import torch

from frecore.model.layered import LayeredFRENet, State

# -- diagnostics (paper Appendix A, Figures 2 and 5) ----------------------------------------------

def spectral_radius(net: LayeredFRENet) -> float:
    """max |eigenvalue| of the scaled recurrent matrix (alpha on forward, beta on feedback blocks)."""
    return float(torch.linalg.eigvals(net.recurrent_matrix().double()).abs().max())


def step_changes(trace: list[State]) -> list[float]:
    """max |s[t+1] - s[t]| over all neurons and samples, t = 0.. (s[0] = 0 before the first step)."""
    changes, prev = [], None
    for s in trace:
        diffs = s if prev is None else [x - p for x, p in zip(s, prev)]
        changes.append(max(float(d.abs().max()) for d in diffs))
        prev = s
    return changes


def convergence_time(trace: list[State], tol: float = 1e-6, patience: int = 3) -> int | None:
    """First step t after which max |s[t+1] - s[t]| < tol for `patience` consecutive steps;
    None when the trajectory never settles. trace[t] is the state after step t + 1."""
    return first_settled(step_changes(trace), tol, patience)


def first_settled(changes: list[float], tol: float = 1e-6, patience: int = 3) -> int | None:
    """Index of the first of `patience` consecutive step changes below `tol` (None: never)."""
    run = 0
    for t, c in enumerate(changes):
        run = run + 1 if c < tol else 0
        if run == patience:
            return t - patience + 1
    return None


@torch.no_grad()
def lyapunov_growth(net: LayeredFRENet, drive: torch.Tensor, steps: int,
                    generator: torch.Generator) -> torch.Tensor:
    """Per-step log growth r_t = ln |J(s[t]) delta_t| of a unit perturbation along the free phase.

    The Jacobian-vector product comes from forward-mode AD (torch.func.jvp), one per step; the
    perturbation is renormalised each step (Appendix A). Returns (steps, B): one trajectory
    and one perturbation per sample. FTMLE(T) = r[:T].mean(0); MLE = r.mean(0) for long runs.
    """
    terms = net.coupling_terms()
    external = [drive] + [None] * (len(net.sizes) - 1)

    def transition(*s: torch.Tensor) -> tuple[torch.Tensor, ...]:
        return tuple(net.step(list(s), external, terms, differentiable=True))

    if net.cfg.activation == "tanh":  # the same product by hand: ~50x faster than jvp on small nets
        def transition_jvp(s: tuple[torch.Tensor, ...], d: tuple[torch.Tensor, ...]):
            return _tanh_step_jvp(net, s, d, external, terms)
    else:
        def transition_jvp(s: tuple[torch.Tensor, ...], d: tuple[torch.Tensor, ...]):
            return torch.func.jvp(transition, s, d)

    state = tuple(net.step(None, external, terms, differentiable=True))  # s[1] from s[0] = 0
    delta = [torch.randn(s.shape, generator=generator, dtype=torch.float64).to(s) for s in state]
    # A fully saturated net can zero the perturbation (tanh' = 0 in floating point): its norm is
    # floored at the dtype's tiny, so growth reads ln(tiny), very negative but finite, never NaN.
    tiny = torch.finfo(state[0].dtype).tiny
    growth = []
    for _ in range(steps):
        norm = torch.sqrt(sum((d ** 2).sum(1) for d in delta)).clamp_min(tiny).unsqueeze(1)  # (B, 1)
        delta = [d / norm for d in delta]
        state, delta = transition_jvp(state, tuple(delta))
        growth.append(torch.log(torch.sqrt(sum((d ** 2).sum(1) for d in delta)).clamp_min(tiny)))
    return torch.stack(growth)


def _tanh_step_jvp(net: LayeredFRENet, state: tuple[torch.Tensor, ...], delta: tuple[torch.Tensor, ...],
                   external: list, terms: list) -> tuple[tuple[torch.Tensor, ...], list[torch.Tensor]]:
    """One step s' = tanh(h(s)) and its Jacobian-vector product J(s) delta = (1 - s'^2) * dh(delta),
    dh being the step's recurrent input applied to delta (the input drive is constant)."""
    new = net.step(list(state), external, terms, differentiable=True)
    out = []
    for j, s_new in enumerate(new):
        dh = None
        for scale, src, mat in terms[j]:
            term = scale * (delta[src] @ mat)
            dh = term if dh is None else dh + term
        out.append(torch.zeros_like(s_new) if dh is None else (1.0 - s_new * s_new) * dh)
    return tuple(new), out
