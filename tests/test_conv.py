"""The convolutional FRE-RNN (Algorithm S2): weak-limit equivalence with BP, pooling indices, shapes."""
import math

import pytest
import torch
import torch.nn.functional as F

from frecore.config import ConfigError, NetConfig, RuleConfig
from frecore.model.protocol import Nudge
from frecore.model.conv import ConvFRENet, conv_shapes, max_pool
from frecore.model.build import build_fre_net
from frecore.rules import build_rule

SHAPE = (1, 12, 12)  # a small image: conv3 pad 1 -> 12x12 -> pool 6x6 -> conv3 pad 1 -> 6x6 -> pool 3x3


def _net(activation="hard-sigmoid", beta=1e-3, seed=0, dtype="float64", channels=(4, 6)):
    cfg = NetConfig(arch="conv", channels=channels, kernel=3, padding=1, activation=activation, beta=beta,
                    dtype=dtype)
    return ConvFRENet(cfg, SHAPE, 3, torch.Generator().manual_seed(seed))


def _batch(n=16, seed=1, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(n, math.prod(SHAPE), generator=g, dtype=torch.float64).to(dtype)
    return x, torch.randint(0, 3, (n,), generator=g)


def _cos(a, b):
    a, b = a.flatten(), b.flatten()
    return float(a @ b / (a.norm() * b.norm()))


def test_shapes_follow_the_paper_architectures():
    mnist = NetConfig(arch="conv", channels=(32, 64), kernel=5, padding=0)
    assert conv_shapes(mnist, (1, 28, 28)) == [(32, 24, 24), (64, 8, 8)]  # fc input 64 x 4 x 4 = 1024
    cifar = NetConfig(arch="conv", channels=(32, 64, 128), kernel=3, padding=1)
    assert conv_shapes(cifar, (3, 32, 32)) == [(32, 32, 32), (64, 16, 16), (128, 8, 8)]  # fc input 2048
    net = build_fre_net(mnist, (1, 28, 28), 10, torch.Generator().manual_seed(0))
    assert net.w_out.shape == (10, 1024)
    with pytest.raises(ConfigError, match="map"):
        conv_shapes(NetConfig(arch="conv", channels=(8, 8, 8, 8)), (1, 28, 28))


@pytest.mark.parametrize("activation", ["hard-sigmoid", "tanh"])
def test_conv_ep_update_approaches_bp_gradient(activation):
    """EP's kernel updates divided by the feedback path's scales approach BP's gradient.

    The bound: cosine > 0.99 (stricter than the 0.95 first asked for) and norms within 5%.
    Hard-sigmoid's kinks and max-pooling's argmax are piecewise, so a unit crossing a kink or an
    argmax flipping between the phases would cost accuracy; at beta_f = beta_i = 1e-3 none does
    in this fixture (measured cosine ~ 1 - 1e-6), and the O(beta_i) gap between the free fixed
    point and the feedforward pass is far below the bound. beta_i = 1 fails it (next test).
    """
    beta, beta_f = 1e-3, 1e-3
    net = _net(activation, beta=beta)
    x, y = _batch()
    build_rule(RuleConfig(name="ep", free_steps=40, nudge_steps=40, beta_f=beta_f)).compute_gradients(
        net, x, y)
    ep = [p.grad.clone() for p in net.weights()]
    build_rule(RuleConfig(name="bp")).compute_gradients(net, x, y)
    bp = [p.grad.clone() for p in net.weights()]
    # parameters: kernel_1, bias_1, kernel_2, bias_2, W_f; EP's ds_1 carries beta_f * beta_1, ds_2 beta_f
    scales = [beta_f * beta, beta_f * beta, beta_f, beta_f, 1.0]
    for name, g_ep, g_bp, s in zip(["kernel 1", "bias 1", "kernel 2", "bias 2", "W_f"], ep, bp, scales):
        assert _cos(g_ep, g_bp) > 0.99, f"{name}: cosine {_cos(g_ep, g_bp):.4f}"
        ratio = float(g_ep.norm() / (s * g_bp.norm()))
        assert abs(ratio - 1) < 0.05, f"{name}: |dW / scale| / |grad BP| = {ratio:.3f}"


def test_strong_feedback_breaks_the_conv_equivalence():
    net = _net("tanh", beta=1.0)
    x, y = _batch()
    build_rule(RuleConfig(name="ep", free_steps=40, nudge_steps=40, beta_f=1e-3)).compute_gradients(net, x, y)
    g_ep = net.convs[0].grad.clone()
    build_rule(RuleConfig(name="bp")).compute_gradients(net, x, y)
    assert _cos(g_ep, net.convs[0].grad) < 0.95


def test_unpooling_uses_the_current_pooling_indices():
    """A step's feedback lands on the argmax of the pooling of the state it starts from."""
    net = _net("tanh", beta=0.5)
    x, _ = _batch(n=4)
    drive = net.input_drive(x)
    g = torch.Generator().manual_seed(5)
    old = [torch.rand(4, *s, generator=g, dtype=torch.float64) for s in net.shapes]
    new = [torch.rand(4, *s, generator=g, dtype=torch.float64) for s in net.shapes]
    _, idx_old = F.max_pool2d(old[0], 2, return_indices=True)
    _, idx_new = F.max_pool2d(new[0], 2, return_indices=True)
    assert not torch.equal(idx_old, idx_new)  # the two states pool at different positions
    back = F.conv_transpose2d(new[1], net.convs[1], padding=1)
    expected = net.rho.fn(drive + 0.5 * F.max_unpool2d(back, idx_new, 2, output_size=new[0].shape[-2:]))
    stale = net.rho.fn(drive + 0.5 * F.max_unpool2d(back, idx_old, 2, output_size=new[0].shape[-2:]))
    got = net.step(new, drive)[0]
    assert torch.allclose(got, expected)
    assert not torch.allclose(got, stale)


def test_zero_feedback_free_phase_is_the_feedforward_pass():
    net = _net("hard-sigmoid", beta=0.0)
    x, _ = _batch()
    s = net.relax(net.input_drive(x), 5).state
    ff_states, logits = net.feedforward(x)
    for a, b in zip(s, ff_states):
        assert torch.allclose(a, b)
    assert torch.allclose(net.logits(s[-1]), logits)


def test_conv_net_rejects_what_it_cannot_do():
    with pytest.raises(ConfigError, match="symmetric"):
        _ = ConvFRENet(NetConfig(arch="conv", feedback="random"), (1, 28, 28), 10, torch.Generator())
    with pytest.raises(ConfigError, match="image"):
        build_fre_net(NetConfig(arch="conv"), 784, 10, torch.Generator())
    with pytest.raises(ConfigError, match="layered"):
        build_rule(RuleConfig(name="fa")).check(NetConfig(arch="conv", feedback="random"))


def _code_net(**net):
    cfg = NetConfig(arch="conv", channels=(4, 6), kernel=3, padding=1, beta=0.05, dtype="float64", **net)
    return ConvFRENet(cfg, SHAPE, 3, torch.Generator().manual_seed(0))


def test_torch_init_and_readout_bias_follow_torch_nn_defaults():
    net = _code_net(init="torch", readout_bias=True)
    for w, b, fan_in in zip(net.convs, net.biases, (1 * 9, 4 * 9)):
        assert float(w.abs().max()) <= 1 / math.sqrt(fan_in) and float(b.abs().max()) <= 1 / math.sqrt(fan_in)
        assert float(b.abs().max()) > 0  # drawn, not zero as under Glorot
    assert float(net.b_out.abs().max()) <= 1 / math.sqrt(net.w_out.shape[1])
    assert net.layer_params()[-1] == [net.w_out, net.b_out]
    glorot = _code_net()
    assert all(float(b.abs().max()) == 0 for b in glorot.biases) and glorot.b_out is None
    x, _ = _batch()
    logits = net.feedforward(x)[1]
    torch.testing.assert_close(logits - net.b_out,
                               F.max_pool2d(net.feedforward(x)[0][-1], 2).flatten(1) @ net.w_out.t())


def test_readout_lag_reads_the_state_one_step_back_and_the_nudge_error_with_it():
    net = _code_net(readout_lag=1)
    x, y = _batch()
    drive = net.input_drive(x)
    r = net.relax(drive, 5)
    assert torch.equal(net.readout_state(r), r.previous[-1])
    seen = []
    net.relax(drive, 3, start=r,
              nudge=Nudge(0.1, lambda s: seen.append(s) or torch.zeros(x.shape[0], 3, dtype=x.dtype)))
    assert seen[0] is r.previous  # the first nudged step reads the state before the free phase's last


def test_the_channels_last_pool_gives_the_nchw_pools_values_and_indices_ties_included():
    g = torch.Generator().manual_seed(0)
    for dtype in (torch.float32, torch.float64):
        s = (torch.rand(8, 5, 12, 10, generator=g, dtype=dtype) * 3 - 1).clamp(0, 1)  # a hard-sigmoid state
        assert float((s == 0).double().mean()) > 0.2 and float((s == 1).double().mean()) > 0.2  # many ties
        values, indices = max_pool(s)
        ref_values, ref_indices = F.max_pool2d(s, 2, return_indices=True)
        assert torch.equal(values, ref_values) and torch.equal(indices, ref_indices)
        back = torch.rand(values.shape, generator=g, dtype=dtype)
        assert torch.equal(F.max_unpool2d(back, indices, 2, output_size=s.shape[-2:]),
                           F.max_unpool2d(back, ref_indices, 2, output_size=s.shape[-2:]))


def test_a_relaxation_in_previous_mode_is_its_steps_one_by_one():
    """relax reuses the step before's pooling in 'previous' mode: the same as pooling again."""
    net = _code_net(pool_indices="previous")
    x, _ = _batch()
    drive = net.input_drive(x)
    got = net.relax(drive, 4)
    previous, state = None, net.step(None, drive)
    for _ in range(3):
        indices = net.pool_indices_of(previous) if previous is not None else None
        previous, state = state, net.step(state, drive, indices=indices)
    for a, b in zip(got.state, state):
        torch.testing.assert_close(a, b, rtol=0, atol=0)


def test_pool_indices_previous_and_free_unpool_where_asked():
    x, _ = _batch()
    err = torch.ones(x.shape[0], 3, dtype=torch.float64)
    for mode in ("previous", "free"):
        net = _code_net(pool_indices=mode)
        drive = net.input_drive(x)
        free = net.relax(drive, 4)
        frozen = net.pool_indices_of(free.state)
        got = net.relax(drive, 2, start=free, nudge=Nudge(0.2, err))  # 'free': the start's indices, frozen
        idx1 = net.pool_indices_of(free.previous) if mode == "previous" else frozen
        s1 = net.step(free.state, drive, err, 0.2, idx1)
        idx2 = net.pool_indices_of(free.state) if mode == "previous" else frozen
        s2 = net.step(s1, drive, err, 0.2, idx2)
        for a, b in zip(got.state, s2):
            torch.testing.assert_close(a, b, rtol=0, atol=0)


def test_damped_step_mixes_the_old_state_and_is_validated():
    net, full = _code_net(damping=0.5), _code_net()
    x, _ = _batch()
    drive = net.input_drive(x)
    s = full.relax(drive, 3).state
    for a, b, c in zip(net.step(s, drive), full.step(s, drive), s):
        torch.testing.assert_close(a, 0.5 * c + 0.5 * b)
    with pytest.raises(ConfigError, match="damping"):
        NetConfig(arch="conv", damping=1.5)
    with pytest.raises(ConfigError, match="conv settings"):
        NetConfig(damping=0.5)
