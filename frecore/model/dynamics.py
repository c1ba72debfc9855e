"""Settling a recurrent net: one relaxation routine for every phase, rule and diagnostic."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Union

import torch

from frecore.model.layered import LayeredFRENet, State

# The last hidden layer's extra input: a constant tensor or a function of the current state
# (the nudge beta_f B_f e_p, recomputed from the current prediction each step).
LastLayerInput = Union[torch.Tensor, Callable[[State], torch.Tensor], None]


@dataclass
class Relaxation:
    state: State  # the state after the last step
    steps: int  # steps taken (< requested when `tol` stopped it early)
    trace: list[State] = field(default_factory=list)  # every state, when asked for


def relax(net: LayeredFRENet, drive: torch.Tensor, steps: int, state: State | None = None,
          last_input: LastLayerInput = None, tol: float | None = None,
          record: bool = False, relative_to: State | None = None) -> Relaxation:
    """Run `steps` synchronous updates from `state` (None: all zeros).

    `drive` is the input drive W_0 x, computed once by the caller and held constant. With
    `tol`, stop after the first step whose largest state change is below it; with `relative_to`
    too, below tol times the largest distance of the new state from `relative_to` (the nudged
    phase's ds = s - s^0, whose size scales with beta_f). Without `tol` the loop and its numbers
    are exactly the fixed-step ones.
    """
    batched = getattr(net, "batched", False)
    terms = net.batched_terms() if batched else net.coupling_terms()  # once per phase
    n_layers = len(net.sizes)
    external: list[torch.Tensor | None] = [drive] + [None] * (n_layers - 1)
    trace: list[State] = []
    taken = 0
    # Starting from s = 0 with rho(0) = 0, a layer stays exactly 0 until the input wave
    # reaches it; skipping what such layers send saves matmuls without changing a number.
    zero: frozenset[int] = frozenset()
    for _ in range(steps):
        ext = external
        if last_input is not None:
            nudge = last_input(state) if callable(last_input) else last_input
            ext = list(external)
            ext[-1] = nudge if ext[-1] is None else ext[-1] + nudge
        if batched:
            new = net.step_batched(state, ext, terms)
        else:
            new = net.step(state, ext, terms, zero)
        if not batched and net.rho.zero_at_origin and net.state_noise is None:
            was_zero = zero if state is not None else frozenset(range(n_layers))
            zero = frozenset(j for j in range(n_layers)
                             if ext[j] is None and all(src in was_zero for _, src, _ in terms[j]))
        taken += 1
        if record:
            trace.append(new)
        if tol is not None and state is not None:
            change = max(float((a - b).abs().max()) for a, b in zip(new, state))
            bound = tol
            if relative_to is not None:
                bound = tol * max(float((a - r).abs().max()) for a, r in zip(new, relative_to))
            state = new
            if change < bound or change == 0.0:
                break
        state = new
    assert state is not None, "relax needs steps >= 1"
    return Relaxation(state, taken, trace)


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

    state = tuple(net.step(None, external, terms, differentiable=True))  # s[1] from s[0] = 0
    delta = [torch.randn(s.shape, generator=generator, dtype=torch.float64).to(s) for s in state]
    growth = []
    for _ in range(steps):
        norm = torch.sqrt(sum((d ** 2).sum(1) for d in delta)).unsqueeze(1)  # (B, 1)
        delta = [d / norm for d in delta]
        state, delta = torch.func.jvp(transition, state, tuple(delta))
        growth.append(torch.log(torch.sqrt(sum((d ** 2).sum(1) for d in delta))))
    return torch.stack(growth)
