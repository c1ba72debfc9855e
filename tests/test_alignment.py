import math

import torch

from frecore.analysis.alignment import cosine, ep_bp_alignment
from frecore.config import RuleConfig
from tests.conftest import make_batch, make_net


def test_cosine_by_hand():
    assert abs(cosine(torch.tensor([1.0, 0.0]), torch.tensor([1.0, 1.0])) - math.cos(math.pi / 4)) < 1e-7
    assert abs(cosine(torch.tensor([[3.0, 4.0]]), torch.tensor([[-3.0, -4.0]])) + 1.0) < 1e-12
    tiny = torch.tensor([1e-12, 2e-12], dtype=torch.float64)
    assert abs(cosine(tiny, tiny) - 1.0) < 1e-12  # no eps clamp on small norms


def test_weak_feedback_aligns_and_strong_feedback_does_not():
    x, y = make_batch(n=32, n_in=16, n_out=5, dtype=torch.float64)
    rule = RuleConfig(free_steps=60, nudge_steps=40, beta_f=0.01)
    lowest = {}
    for beta in (0.01, 1.0):
        net = make_net(hidden=(20,) * 5, n_in=16, n_out=5, beta=beta, dtype="float64", seed=1)
        rows = ep_bp_alignment(net, x, y, rule)
        by = {(r["quantity"], r["layer"]): r["cosine"] for r in rows}
        assert len(rows) == 5 * 3 + 1 and all(w.grad is None for w in net.weights())
        lowest[beta] = by[("weight update", "1")]
        if beta == 0.01:
            assert min(by.values()) > 0.95, by
    assert lowest[1.0] < lowest[0.01]
