"""LRA (Algorithm S1): targets and updates by hand on a tiny 2-hidden-layer net."""
import pytest
import torch

from frecore.config import ConfigError, NetConfig, RuleConfig
from frecore.rules import build_rule
from tests.conftest import make_batch, make_net


def test_lra_targets_and_updates_follow_algorithm_s1():
    net = make_net(hidden=(5, 4), n_in=3, n_out=2, dtype="float64", seed=2)
    x, y = make_batch(n=3, n_in=3, n_out=2, dtype=torch.float64)
    beta = 0.1
    W0, W1, Wf = net.w_in.detach(), net.w_blocks[0].detach(), net.w_out.detach()
    # Algorithm S1, written out with column vectors per sample (rows here), B = W^T
    s1 = torch.tanh(x @ W0.T)
    s2 = torch.tanh(s1 @ W1.T)
    e_p = torch.nn.functional.one_hot(y, 2).double() - torch.softmax(s2 @ Wf.T, 1)
    e2 = torch.tanh(s1 @ W1.T + beta * e_p @ Wf) - s2
    e1 = torch.tanh(x @ W0.T + beta * e2 @ W1) - s1
    rule = build_rule(RuleConfig(name="lra", beta_f=beta))
    rule.compute_gradients(net, x, y)
    n = x.shape[0]
    assert torch.allclose(net.w_in.grad, -(e1.T @ x) / n)
    assert torch.allclose(net.w_blocks[0].grad, -(e2.T @ s1) / n)
    assert torch.allclose(net.w_out.grad, -(e_p.T @ s2) / n)


def test_lra_learns_on_the_layered_chain_only():
    rule = build_rule(RuleConfig(name="lra"))
    with pytest.raises(ConfigError, match="layered"):
        rule.check(NetConfig(hidden=(8, 8, 8, 8), topology="residual"))
    rule.check(NetConfig(hidden=(8, 8), feedback="random"))  # random fixed B is allowed
