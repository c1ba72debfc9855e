import math

import torch

from frecore.config import NetConfig
from frecore.model.init import glorot_uniform
from frecore.model.build import build_fre_net
from tests.conftest import make_batch, make_net


def test_glorot_bound_and_seeded():
    w = glorot_uniform(30, 50, torch.Generator().manual_seed(0))
    assert w.abs().max() <= math.sqrt(6 / 80)
    assert w.abs().max() > 0.9 * math.sqrt(6 / 80)
    torch.testing.assert_close(w, glorot_uniform(30, 50, torch.Generator().manual_seed(0)), rtol=0, atol=0)


def test_beta_zero_free_phase_is_the_feedforward_pass():
    net = make_net(hidden=(12, 10, 9), beta=0.0, alpha=(0.7, 1.3), dtype="float64")
    x, _ = make_batch(dtype=torch.float64)
    s = net.relax(net.input_drive(x), steps=3).state  # depth 3: the wave has reached the top
    ff, logits = net.feedforward(x)
    for a, b in zip(s, ff):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-14)
    torch.testing.assert_close(net.logits(s[-1]), logits, rtol=0, atol=1e-14)


def test_tied_feedback_is_the_forward_weight_and_stays_tied():
    net = make_net(hidden=(12, 10, 9), feedback="symmetric")
    assert all(net.feedback_operand(k) is net.w_blocks[k] for k in range(2))
    assert net.output_feedback_operand() is net.w_out
    assert not list(net.buffers())
    opt = torch.optim.SGD(net.weights(), lr=0.5)
    for w in net.weights():
        w.grad = torch.ones_like(w)
    opt.step()
    assert all(net.feedback_operand(k) is net.w_blocks[k] for k in range(2))


def test_random_feedback_is_fixed_and_not_learned():
    net = make_net(hidden=(12, 10), feedback="random")
    before = [b.clone() for b in net.buffers()]
    assert len(before) == 2 and all(not b.requires_grad for b in before)
    assert not torch.equal(net.feedback_operand(0), net.w_blocks[0])
    opt = torch.optim.SGD(net.weights(), lr=0.5)
    for w in net.weights():
        w.grad = torch.ones_like(w)
    opt.step()
    for a, b in zip(before, net.buffers()):
        assert torch.equal(a, b)


def test_feedforward_with_feedback_alignment_routes_errors_through_fixed_matrices():
    net = make_net(hidden=(12, 10), feedback="random", dtype="float64")
    x, y = make_batch(dtype=torch.float64)
    states, logits = net.feedforward(x, feedback_alignment=True)
    loss = torch.nn.functional.cross_entropy(logits, y)
    g_in, g_blk, g_out = torch.autograd.grad(loss, net.weights())
    # By hand: delta_out = (p - y)/B; delta_2 = delta_out F_f * rho'; delta_1 = delta_2 F_0 * rho'
    p = torch.softmax(logits, 1).detach()
    d_out = (p - torch.nn.functional.one_hot(y, 4)) / x.shape[0]
    s1, s2 = (s.detach() for s in states)
    d2 = (d_out @ net.fb_out) * (1 - s2 ** 2)
    d1 = (d2 @ net.fb_block0) * (1 - s1 ** 2)
    torch.testing.assert_close(g_out, d_out.t() @ s2)
    torch.testing.assert_close(g_blk, d2.t() @ s1)
    torch.testing.assert_close(g_in, d1.t() @ x)


def test_weights_in_input_to_readout_order_and_dtype():
    net = build_fre_net(NetConfig(hidden=(7, 6), dtype="float64"), 5, 3, torch.Generator().manual_seed(0))
    assert [tuple(w.shape) for w in net.weights()] == [(7, 5), (6, 7), (3, 6)]
    assert all(w.dtype == torch.float64 for w in net.weights())
