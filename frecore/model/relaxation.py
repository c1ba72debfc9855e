"""The one relaxation routine: iterate a net's synchronous step from a start state, for a fixed
number of steps or until the state settles. Every net (layered, conv, prototypical) relaxes
through `iterate`; what a step does, and how a nudge enters it, is the net's own."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Generic, Optional, Sequence, TypeVar

import torch

S = TypeVar("S", bound=Sequence[torch.Tensor])  # a state: one tensor per layer


@dataclass
class Relaxation(Generic[S]):
    state: S  # the state after the last step
    steps: int = 0  # steps taken (< requested when `tol` stopped it early)
    trace: list[S] = field(default_factory=list)  # every state, when asked for
    previous: Optional[S] = None  # the state one step before `state` (None after one step from zero)


def max_change(a: Sequence[torch.Tensor], b: Sequence[torch.Tensor]) -> float:
    """max |a - b| over every layer and unit."""
    return max(float((x - y).abs().max()) for x, y in zip(a, b))


def iterate(step: Callable[[S | None, S | None], S], steps: int, start: Relaxation[S] | None = None,
            tol: float | None = None, relative_to: S | None = None, record: bool = False) -> Relaxation[S]:
    """Run `step(state, previous) -> new state` `steps` times from `start` (None: s = 0).

    With `tol`, stop after the first step whose largest state change is below it; with
    `relative_to` too, below tol times the new state's largest distance from `relative_to` (the
    nudged phase's ds = s - s^0, whose size scales with beta_f). Without `tol` the loop takes
    exactly `steps` steps.
    """
    state, previous = (start.state, start.previous) if start is not None else (None, None)
    trace: list[S] = []
    taken = 0
    for _ in range(steps):
        previous, state = state, step(state, previous)
        taken += 1
        if record:
            trace.append(state)
        if tol is not None and previous is not None:
            change = max_change(state, previous)
            bound = tol if relative_to is None else tol * max_change(state, relative_to)
            if change < bound or change == 0.0:
                break
    assert state is not None, "relaxation needs steps >= 1"
    return Relaxation(state, taken, trace, previous)


def member_changes(a: Sequence[torch.Tensor], b: Sequence[torch.Tensor]) -> torch.Tensor:
    """max |a - b| per member (leading dimension) over every layer and unit, (M,) in float64."""
    return torch.stack([(x - y).abs().amax(dim=tuple(range(1, x.dim())))
                        for x, y in zip(a, b)]).amax(0).double()


def iterate_members(step: Callable[[S | None, S | None], S], steps: int, start: Relaxation[S] | None = None,
                    tol: float | None = None, relative_to: S | None = None,
                    record: bool = False) -> Relaxation[S]:
    """`iterate` for members side by side (every tensor (M, ...)), each member stopping at its own
    settled step: from then on it keeps its state (and the state before it), as its own run would
    end there, while the others go on; the loop ends when every member has settled. The settle test
    is each member's own, on its own slice (bounds in float64, as `iterate` computes them).
    `Relaxation.steps` is then a (M,) tensor of the steps each member took."""
    if tol is None:
        return iterate(step, steps, start, record=record)
    state, previous = (start.state, start.previous) if start is not None else (None, None)
    trace: list[S] = []
    taken: torch.Tensor | None = None
    running: torch.Tensor | None = None  # (M,) members still relaxing
    for _ in range(steps):
        new = step(state, previous)
        if running is None:
            running = torch.ones(new[0].shape[0], dtype=torch.bool, device=new[0].device)
            taken = torch.zeros(new[0].shape[0], dtype=torch.int64, device=new[0].device)
        if state is not None and not bool(running.all()):  # settled members keep what they had
            keep = [running.view(-1, *([1] * (x.dim() - 1))) for x in new]
            previous = [torch.where(k, s, p) for k, s, p in zip(keep, state, previous)]
            state = [torch.where(k, x, s) for k, x, s in zip(keep, new, state)]
        else:
            previous, state = state, new
        taken += running
        if record:
            trace.append(state)
        if previous is not None:
            change = member_changes(state, previous)
            bound = tol if relative_to is None else tol * member_changes(state, relative_to)
            running = running & ~((change < bound) | (change == 0.0))
            if not bool(running.any()):
                break
    assert state is not None, "relaxation needs steps >= 1"
    return Relaxation(state, taken, trace, previous)
