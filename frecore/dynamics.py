"""Settling a recurrent net: one relaxation routine for every phase, rule and diagnostic."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Union

import torch

from frecore.nets import LayeredFRENet, State

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
          record: bool = False) -> Relaxation:
    """Run `steps` synchronous updates from `state` (None: all zeros).

    `drive` is the input drive W_0 x, computed once by the caller and held constant. With
    `tol`, stop after the first step whose largest state change is below it.
    """
    terms = net.coupling_terms()  # once per phase
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
        new = net.step(state, ext, terms, zero)
        if net.rho.zero_at_origin:
            was_zero = zero if state is not None else frozenset(range(n_layers))
            zero = frozenset(j for j in range(n_layers)
                             if ext[j] is None and all(src in was_zero for _, src, _ in terms[j]))
        taken += 1
        if record:
            trace.append(new)
        if tol is not None and state is not None:
            change = max(float((a - b).abs().max()) for a, b in zip(new, state))
            state = new
            if change < tol:
                break
        state = new
    assert state is not None, "relax needs steps >= 1"
    return Relaxation(state, taken, trace)
