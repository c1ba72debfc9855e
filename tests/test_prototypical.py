"""Prototypical EP (Ernoult et al. 2019): settling, energy, and the contrastive update's meaning."""

import pytest
import torch

from frecore.config import ConfigError, NetConfig, RuleConfig
from frecore.model.build import build_prototypical_net
from frecore.model.prototypical import ConvPrototypicalNet, LayeredPrototypicalNet
from frecore.rules import build_rule


def _dense(seed=0, hidden=(6, 5), scale=1.0):
    net = LayeredPrototypicalNet(NetConfig(hidden=hidden, activation="sigmoid-s", dtype="float64"), 7, 3,
                                 torch.Generator().manual_seed(seed))
    with torch.no_grad():
        for w in net.ws:
            w.mul_(scale)
        for j, b in enumerate(net.bs):
            b.copy_(torch.linspace(-0.3, 0.3, b.numel(), dtype=torch.float64))
    return net


def _batch(n=5, n_in=7, seed=1):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(n, n_in, generator=g, dtype=torch.float64), torch.randint(0, 3, (n,), generator=g)


def _change(a, b):
    return max(float((p - q).abs().max()) for p, q in zip(a, b))


def test_dense_dynamics_settle_at_a_stationary_point_of_the_energy():
    net = _dense()
    x, _ = _batch()
    drive = net.input_drive(x)
    r = net.relax(drive, 200)
    s = r.state
    assert _change(net.relax(drive, 1, start=r).state, s) < 1e-10  # settled
    # grad E = sigma^-1(s) - dPhi/ds vanishes at the fixed point: the steps descended to it
    s_var = [t.clone().requires_grad_(True) for t in s]
    (grad,) = [torch.autograd.grad(net.energy(x, s_var).sum(), s_var)]
    assert max(float(g.abs().max()) for g in grad) < 1e-8
    start = net.zero_state(drive)
    start = [t + 0.5 for t in start]  # an arbitrary interior point has higher energy
    assert bool((net.energy(x, s) < net.energy(x, start)).all())


def test_contrastive_update_matches_the_finite_difference_gradient_of_the_cost():
    """(1/beta)(dPhi/dtheta(s^beta) - dPhi/dtheta(s^0)) -> -dC/dtheta, C = 1/2 |y - o*|^2 at the
    free fixed point, checked against central differences of C for every parameter. Exact for the
    nudge inside sigma; Ernoult's nudge after sigma drops sigma'(o) from the output's error."""
    net = _dense(seed=2)
    x, y = _batch(seed=3)
    target = torch.nn.functional.one_hot(y, 3).double()
    rule = build_rule(RuleConfig(name="pep", free_steps=300, nudge_steps=300, beta_f=1e-5,
                                 pep_nudge="preactivation"))
    rule.compute_gradients(net, x, y)
    ep = [p.grad.clone() for p in net.weights()]

    def cost() -> float:
        o = net.output(net.relax(net.input_drive(x), 300).state)
        return float(0.5 * ((target - o) ** 2).sum(1).mean())

    eps = 1e-6
    with torch.no_grad():
        for p, g in zip(net.weights(), ep):
            fd = torch.zeros_like(p)
            for i in range(p.numel()):
                old = p.view(-1)[i].item()
                p.view(-1)[i] = old + eps
                up = cost()
                p.view(-1)[i] = old - eps
                down = cost()
                p.view(-1)[i] = old
                fd.view(-1)[i] = (up - down) / (2 * eps)
            assert torch.allclose(g, fd, rtol=1e-3,
                                  atol=2e-5), f"{p.shape}: max err {float((g - fd).abs().max()):.2e}"


def test_contrastive_update_breaks_with_large_beta():
    """The same comparison at beta = 1 is off: the finite-difference check above can fail."""
    net = _dense(seed=2)
    x, y = _batch(seed=3)
    kw = dict(free_steps=300, nudge_steps=300, pep_nudge="preactivation")
    build_rule(RuleConfig(name="pep", beta_f=1e-5, **kw)).compute_gradients(net, x, y)
    small = net.ws[0].grad.clone()
    build_rule(RuleConfig(name="pep", beta_f=1.0, **kw)).compute_gradients(net, x, y)
    assert not torch.allclose(small, net.ws[0].grad, rtol=1e-2)


def test_conv_prototypical_net_settles_and_nudges_its_output():
    cfg = NetConfig(arch="conv", channels=(3, 4), kernel=3, padding=1, activation="hard-sigmoid",
                    dtype="float64")
    net = ConvPrototypicalNet(cfg, (1, 12, 12), 3, torch.Generator().manual_seed(0))
    g = torch.Generator().manual_seed(1)
    x = torch.rand(4, 144, generator=g, dtype=torch.float64)
    y = torch.tensor([0, 1, 2, 0])
    with torch.no_grad():
        drive = net.input_drive(x)
        r = net.relax(drive, 300)
        s = r.state  # hard-sigmoid conv dynamics contract slowly: ~x0.95 per step here
        assert [tuple(t.shape[1:]) for t in s] == [(3, 6, 6), (4, 3, 3), (3,)]
        assert _change(net.relax(drive, 1, start=r).state, s) < 1e-8
    target = torch.nn.functional.one_hot(y, 3).double()
    with torch.no_grad():
        s_beta = net.relax(drive, 50, start=r, target=target, beta=0.1).state  # Ernoult's nudge, after sigma
        s_inside = net.relax(drive, 50, start=r, target=target, beta=0.1, nudge="preactivation").state
    assert float((s_beta[-1] * target).sum()) > float((s[-1] * target).sum())  # the nudge pulls o towards y,
    assert float((s_beta[-1] * (1 - target)).sum()) <= float((s[-1] * (1 - target)).sum())
    # inside sigma the same beta moves saturated outputs less (or not at all)
    assert float((s_inside[-1] * target).sum()) < float((s_beta[-1] * target).sum())
    rule = build_rule(RuleConfig(name="pep", free_steps=100, nudge_steps=50, beta_f=0.5))
    rule.compute_gradients(net, x, y)
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in net.weights())
    assert float(net.ws[0].grad.abs().sum()) > 0


def test_pep_builds_its_own_nets_and_checks_its_settings():
    rule = build_rule(RuleConfig(name="pep", beta_f=0.5))
    net = rule.build_net(NetConfig(hidden=(8,), activation="sigmoid-s"), 5, 3, torch.Generator())
    assert isinstance(net, LayeredPrototypicalNet) and len(net.layer_params()) == 2
    with pytest.raises(ConfigError, match="sigmoid"):
        rule.check(NetConfig(activation="tanh"))
    with pytest.raises(ConfigError, match="symmetric"):
        rule.check(NetConfig(activation="sigmoid-s", feedback="random"))
    with pytest.raises(ConfigError, match="chains"):
        rule.check(NetConfig(hidden=(8, 8, 8), activation="sigmoid-s", topology="agt"))
    with pytest.raises(ConfigError, match="beta_f"):
        build_rule(RuleConfig(name="pep", beta_f=0.0)).check(NetConfig(activation="sigmoid-s"))


def test_mnist_sized_conv_pep_settles_from_its_initialisation():
    """Regression: with Glorot's bound the synchronous dynamics of this net flip the output between
    0 and 1 forever (and P-EP learns nothing); torch's default init, Ernoult et al.'s, settles."""
    cfg = NetConfig(arch="conv", channels=(32, 64), kernel=5, activation="hard-sigmoid")
    net = build_prototypical_net(cfg, (1, 28, 28), 10, torch.Generator().manual_seed(0))
    x = torch.rand(4, 784, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        drive = net.input_drive(x)
        r = net.relax(drive, 100)
        s = r.state
        assert _change(net.relax(drive, 1, start=r).state, s) < 1e-4
