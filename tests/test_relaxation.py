"""frecore.model.relaxation: the one relaxation loop, for one net and for members side by side."""
from __future__ import annotations

import torch

from frecore.model.relaxation import Relaxation, iterate, iterate_members


def _contraction(rates: torch.Tensor, target: torch.Tensor):
    """s <- s + rate (target - s), per member: member i settles at a speed set by its rate."""
    def step(state, previous):
        s = torch.zeros_like(target) if state is None else state[0]
        return [s + rates.view(-1, 1, 1) * (target - s)]
    return step


def test_each_member_stops_at_its_own_settled_step_as_its_own_loop_would():
    g = torch.Generator().manual_seed(0)
    rates = torch.tensor([0.9, 0.5, 0.2], dtype=torch.float64)
    target = torch.randn(3, 4, 5, generator=g, dtype=torch.float64)
    for tol, relative in ((1e-3, False), (0.05, True)):
        start = Relaxation([torch.zeros_like(target)], 0, previous=None) if relative else None
        anchor = [target * 0.5] if relative else None
        together = iterate_members(_contraction(rates, target), 60, start, tol=tol, relative_to=anchor)
        for i in range(3):
            own_start = Relaxation([start.state[0][i:i + 1]], 0) if relative else None
            own = iterate(_contraction(rates[i:i + 1], target[i:i + 1]), 60, own_start, tol=tol,
                          relative_to=[anchor[0][i:i + 1]] if relative else None)
            assert int(together.steps[i]) == own.steps < 60
            assert torch.equal(together.state[0][i], own.state[0][0])
            if own.previous is not None:
                assert torch.equal(together.previous[0][i], own.previous[0][0])
        assert len(set(together.steps.tolist())) == 3  # they did settle at different steps


def test_without_a_tolerance_members_take_every_step():
    rates, target = torch.tensor([0.9, 0.2]), torch.ones(2, 1, 1)
    got = iterate_members(_contraction(rates, target), 7)
    assert got.steps == 7
