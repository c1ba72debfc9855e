"""EP's local update approaches BP's gradient in the weak-feedback, weak-nudging limit (Appendix C)."""
import math

import pytest
import torch

from frecore.config import RuleConfig
from frecore.rules import build_rule
from tests.conftest import make_batch, make_net


def _cos(a: torch.Tensor, b: torch.Tensor) -> float:
    # Not F.cosine_similarity: its eps clamps norms below 1e-8, and EP's raw dW_0 is ~1e-11 here.
    a, b = a.flatten(), b.flatten()
    return float(a @ b / (a.norm() * b.norm()))


def _path_products(betas: tuple[float, ...], beta_f: float) -> list[float]:
    """The factor EP's dW carries vs BP's gradient, per weight (input -> readout order).

    ds at hidden layer j ~ beta_f * beta_j * ... * beta_{L-2} * (BP's delta at j): the nudge
    enters the top layer scaled by beta_f and each feedback block on the way down scales it by
    its beta. W_f's update is the exact cross-entropy gradient (factor 1).
    """
    L = len(betas) + 1
    into_layer = [beta_f * math.prod(betas[j:]) for j in range(L)]
    return into_layer + [1.0]


@pytest.mark.parametrize("hidden", [(30, 25), (30, 25, 20)])
@pytest.mark.parametrize("hold_error", [False, True])
def test_ep_update_approaches_bp_gradient(hidden, hold_error):
    beta, beta_f = 1e-3, 1e-3
    net = make_net(hidden=hidden, n_in=16, n_out=5, beta=beta, dtype="float64", seed=3)
    x, y = make_batch(n=32, n_in=16, n_out=5, dtype=torch.float64, seed=4)
    ep = build_rule(RuleConfig(name="ep", free_steps=40, nudge_steps=40, beta_f=beta_f,
                               hold_error=hold_error))
    ep.compute_gradients(net, x, y)
    ep_grads = [w.grad.clone() for w in net.weights()]
    build_rule(RuleConfig(name="bp")).compute_gradients(net, x, y)
    bp_grads = [w.grad.clone() for w in net.weights()]
    for i, (g_ep, g_bp, scale) in enumerate(zip(ep_grads, bp_grads, _path_products(net.beta, beta_f))):
        assert _cos(g_ep, g_bp) > 0.99, f"weight {i}: cosine {_cos(g_ep, g_bp):.4f}"
        ratio = float(g_ep.norm() / (scale * g_bp.norm()))
        assert abs(ratio - 1) < 0.02, f"weight {i}: |dW/prod(beta)| / |grad BP| = {ratio:.4f}"


def test_strong_feedback_breaks_the_equivalence():
    """The same check fails at beta_i = 1: the bound above is not vacuous."""
    net = make_net(hidden=(30, 25, 20), n_in=16, n_out=5, beta=1.0, dtype="float64", seed=3)
    x, y = make_batch(n=32, n_in=16, n_out=5, dtype=torch.float64, seed=4)
    build_rule(RuleConfig(name="ep", free_steps=40, nudge_steps=40, beta_f=1e-3)).compute_gradients(net, x, y)
    g_ep = net.w_in.grad.clone()
    build_rule(RuleConfig(name="bp")).compute_gradients(net, x, y)
    assert _cos(g_ep, net.w_in.grad) < 0.99


def test_readout_update_is_the_cross_entropy_gradient_at_the_free_state():
    net = make_net(hidden=(12, 10), beta=0.01, dtype="float64")
    x, y = make_batch(dtype=torch.float64)
    rule = build_rule(RuleConfig(name="ep", free_steps=10, nudge_steps=5))
    s0, _, logits0, _, _ = rule.phases(net, x, y)
    s0 = s0.state
    rule.compute_gradients(net, x, y)
    w = net.w_out.detach().clone().requires_grad_(True)
    loss = torch.nn.functional.cross_entropy(s0[-1] @ w.t(), y)
    (g,) = torch.autograd.grad(loss, w)
    torch.testing.assert_close(net.w_out.grad, g)


def test_hold_error_changes_the_nudged_phase_only():
    net = make_net(hidden=(12, 10), beta=0.5, dtype="float64")
    x, y = make_batch(dtype=torch.float64)
    rule_a = build_rule(RuleConfig(name="ep", beta_f=1.0, hold_error=False))
    rule_b = build_rule(RuleConfig(name="ep", beta_f=1.0, hold_error=True))
    s0a, sba = (r.state for r in rule_a.phases(net, x, y)[:2])
    s0b, sbb = (r.state for r in rule_b.phases(net, x, y)[:2])
    for a, b in zip(s0a, s0b):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    assert max(float((a - b).abs().max()) for a, b in zip(sba, sbb)) > 1e-6


def test_ep_is_deterministic_and_leaves_weights_alone():
    net = make_net(hidden=(12, 10))
    x, y = make_batch()
    before = [w.detach().clone() for w in net.weights()]
    rule = build_rule(RuleConfig(name="ep"))
    rule.compute_gradients(net, x, y)
    g1 = [w.grad.clone() for w in net.weights()]
    rule.compute_gradients(net, x, y)
    for a, b, w, w0 in zip(g1, [w.grad for w in net.weights()], net.weights(), before):
        assert torch.equal(a, b)
        assert torch.equal(w.detach(), w0)


def test_ep_on_a_residual_net_approaches_bp_of_the_same_dag():
    """Skip feedback scaled by beta^span (span = chain blocks it bypasses) gives every path from the
    top to a layer the same beta product, so EP / that product -> BP's gradient of the feedforward DAG."""
    from frecore.config import NetConfig
    from frecore.model.build import build_fre_net

    beta, beta_f = 1e-3, 1e-3
    skips = ((0, 2), (1, 3))  # each bypasses two chain blocks (4 layers keep beta^depth above float64's eps)
    cfg = NetConfig(hidden=(12,) * 4, topology="custom", skips=skips, dtype="float64",
                    beta=(beta,) * 3 + (beta ** 2,) * 2)  # chain blocks first, then the skips
    net = build_fre_net(cfg, 10, 4, torch.Generator().manual_seed(5))
    x, y = make_batch(n=24, n_in=10, n_out=4, dtype=torch.float64, seed=6)
    build_rule(RuleConfig(name="ep", free_steps=60, nudge_steps=60, beta_f=beta_f)).compute_gradients(
        net, x, y)
    ep = [w.grad.clone() for w in net.weights()]
    build_rule(RuleConfig(name="bp")).compute_gradients(net, x, y)
    bp = [w.grad.clone() for w in net.weights()]
    L = 4
    into = [beta_f * beta ** (L - 1 - j) for j in range(L)]  # ds at layer j
    scales = [into[0]] + [into[b.dst] for b in net.topology.blocks] + [1.0]
    for i, (g_ep, g_bp, s) in enumerate(zip(ep, bp, scales)):
        assert _cos(g_ep, g_bp) > 0.95, f"weight {i}: cosine {_cos(g_ep, g_bp):.4f}"
        assert abs(float(g_ep.norm() / (s * g_bp.norm())) - 1) < 0.05, f"weight {i}"


def test_batched_and_looped_steps_agree():
    """The batched step (one bmm over all blocks) is the loop's update, number for number."""
    from frecore.config import NetConfig
    from frecore.model.build import build_fre_net

    cfg = NetConfig(hidden=(16,) * 6, topology="residual", beta=0.3, dtype="float64")
    net = build_fre_net(cfg, 10, 4, torch.Generator().manual_seed(0))
    x, y = make_batch(n=8, n_in=10, n_out=4, dtype=torch.float64)
    drive = net.input_drive(x)
    net.batched = True
    a = net.relax(drive, 12).state
    net.batched = False
    b = net.relax(drive, 12).state
    for p, q in zip(a, b):
        assert torch.allclose(p, q, atol=1e-12)


def test_uniform_skip_feedback_weights_the_short_paths():
    """With every block at the same beta, the skip paths (fewer beta factors) dominate ds: EP then
    follows the shortest credit paths, not BP of the whole DAG (the previous test's bound fails)."""
    from frecore.config import NetConfig
    from frecore.model.build import build_fre_net

    cfg = NetConfig(hidden=(12,) * 4, topology="custom", skips=((0, 2), (1, 3)), dtype="float64", beta=1e-3)
    net = build_fre_net(cfg, 10, 4, torch.Generator().manual_seed(5))
    x, y = make_batch(n=24, n_in=10, n_out=4, dtype=torch.float64, seed=6)
    build_rule(RuleConfig(name="ep", free_steps=60, nudge_steps=60, beta_f=1e-3)).compute_gradients(net, x, y)
    g_ep = net.w_in.grad.clone()
    build_rule(RuleConfig(name="bp")).compute_gradients(net, x, y)
    assert _cos(g_ep, net.w_in.grad) < 0.95


def test_accumulating_nudge_adds_k_times_the_free_error_at_step_k():
    """models_LN_G.py: hb += beta_f B_f e_p^0 inside the K loop, so step k sees k beta_f B_f e_p^0."""
    import torch.nn.functional as F

    from frecore.model.protocol import Nudge
    from frecore.model.relaxation import Relaxation

    net = make_net(dtype="float64")
    x, y = make_batch(dtype=torch.float64)
    rule = build_rule(RuleConfig(free_steps=6, nudge_steps=3, beta_f=0.3, nudge="accumulating"))
    s0, s_beta, logits0, e_w, _ = rule.phases(net, x, y)
    s0, s_beta = s0.state, s_beta.state
    e0 = F.one_hot(y, 4).double() - torch.softmax(logits0, 1)
    s = s0
    for k in (1, 2, 3):  # a constant nudge k beta_f B_f e_p^0 at step k
        s = net.relax(net.input_drive(x), 1, start=Relaxation(s), nudge=Nudge(0.3 * k, e0)).state
    for a, b in zip(s, s_beta):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-12)
    torch.testing.assert_close(e_w, e0)  # readout_error defaults to the free phase's error


def test_readout_error_nudged_trains_w_f_on_the_nudged_readout_and_the_bias_learns_with_it():
    import torch.nn.functional as F

    net = make_net(dtype="float64", readout_bias=True)
    x, y = make_batch(dtype=torch.float64)
    rule = build_rule(RuleConfig(free_steps=6, nudge_steps=4, beta_f=0.5, nudge="accumulating",
                                 readout_error="nudged"))
    rule.compute_gradients(net, x, y)
    s0, s_beta, _, e_w, _ = rule.phases(net, x, y)
    s0, s_beta = s0.state, s_beta.state
    e_end = F.one_hot(y, 4).double() - torch.softmax(net.logits(s_beta[-1]), 1)
    torch.testing.assert_close(e_w, e_end)
    torch.testing.assert_close(net.w_out.grad, -(e_end.t() @ s0[-1]) / x.shape[0])
    torch.testing.assert_close(net.b_out.grad, -e_end.mean(0))


def test_readout_bias_is_bp_s_gradient_under_ep_in_the_weak_limit():
    net = make_net(dtype="float64", readout_bias=True, beta=1e-4)
    x, y = make_batch(dtype=torch.float64)
    build_rule(RuleConfig(name="bp")).compute_gradients(net, x, y)
    bp = net.b_out.grad.clone()
    build_rule(RuleConfig(free_steps=40, nudge_steps=40, beta_f=1e-4)).compute_gradients(net, x, y)
    # e_p^0 is read at the free fixed point, which differs from the feedforward pass by O(beta_i)
    torch.testing.assert_close(net.b_out.grad, bp, rtol=1e-2, atol=1e-5)


def _settled(**kw) -> RuleConfig:
    return RuleConfig(name="ep", free_steps=60, nudge_steps=40, beta_f=0.1, **kw)


@pytest.mark.parametrize("relative", [False, True])
def test_settled_phases_give_the_fixed_step_update_and_count_their_steps(relative):
    net = make_net(hidden=(30, 25), beta=0.05, dtype="float64")
    x, y = make_batch(dtype=torch.float64)
    fixed = build_rule(_settled())
    fixed.compute_gradients(net, x, y)
    ref = [w.grad.clone() for w in net.weights()]
    assert fixed.take_step_counts() == {}  # fixed T/K: nothing to report
    tol_nudged = 1e-6 if relative else 1e-9
    rule = build_rule(_settled(settle_tol=1e-10, settle_tol_nudged=tol_nudged, settle_relative=relative))
    rule.compute_gradients(net, x, y)
    rule.compute_gradients(net, x, y)
    for w, r in zip(net.weights(), ref):
        torch.testing.assert_close(w.grad, r, rtol=1e-5, atol=1e-5 * float(r.abs().max()))
    counts = rule.take_step_counts()
    assert 1 < counts["free"] < 60 and 1 < counts["nudged"] < 40
    assert rule.take_step_counts() == {}  # reset by the take


def test_settling_conv_phases_stop_early_with_the_fixed_step_update():
    from frecore.config import NetConfig
    from frecore.model.conv import ConvFRENet
    from tests.test_conv import SHAPE, _batch

    def net(pool_indices: str) -> ConvFRENet:
        cfg = NetConfig(arch="conv", channels=(4, 6), kernel=3, padding=1, activation="hard-sigmoid",
                        beta=1e-3, dtype="float64", pool_indices=pool_indices)
        return ConvFRENet(cfg, SHAPE, 3, torch.Generator().manual_seed(0))

    x, y = _batch(n=8)
    settle = dict(free_steps=40, nudge_steps=30, beta_f=0.25)
    frozen = net("free")  # unpooling at the free phase's argmax: the nudged phase settles
    build_rule(RuleConfig(**settle)).compute_gradients(frozen, x, y)
    ref = [w.grad.clone() for w in frozen.weights()]
    rule = build_rule(RuleConfig(**settle, settle_tol=1e-12, settle_tol_nudged=1e-6, settle_relative=True))
    rule.compute_gradients(frozen, x, y)
    counts = rule.take_step_counts()
    assert counts["free"] < 40 and counts["nudged"] < 30
    for w, r in zip(frozen.weights(), ref):
        torch.testing.assert_close(w.grad, r, rtol=1e-4, atol=1e-4 * float(r.abs().max()))
    # at the current argmax the nudged phase cycles (conv_cycle_probe, tests/test_probes.py) and runs its K
    # steps
    rule.compute_gradients(net("current"), x, y)
    assert rule.take_step_counts()["nudged"] == 30


@pytest.mark.parametrize("kw, match", [
    ({"settle_tol": 0.0}, "settle_tol must be a finite number > 0"),
    ({"settle_tol": float("nan")}, "settle_tol must be a finite number > 0"),
    ({"settle_tol_nudged": float("inf")}, "settle_tol_nudged must be a finite number > 0"),
    ({"settle_tol_nudged": -1e-3}, "settle_tol_nudged must be a finite number > 0"),
    ({"settle_relative": True}, "set settle_tol_nudged too"),
    ({"name": "pep", "settle_tol": 1e-4}, "rule 'pep' runs its fixed steps"),
    ({"name": "bp", "settle_tol_nudged": 1e-4}, "rule 'bp' runs its fixed steps"),
])
def test_settle_options_are_checked(kw, match):
    from frecore.config import ConfigError

    with pytest.raises(ConfigError, match=match):
        RuleConfig(**kw)


def test_settle_flags_reach_the_rule_config(capsys):
    from frecore.cli import build_parser, config_from_args, main

    a = build_parser().parse_args(["train", "--settle-tol", "1e-4", "--settle-tol-nudged", "0.01",
                                   "--settle-relative"])
    rule = config_from_args(a).rule
    assert (rule.settle_tol, rule.settle_tol_nudged, rule.settle_relative) == (1e-4, 0.01, True)
    plain = config_from_args(build_parser().parse_args(["train"])).rule
    assert plain == RuleConfig()  # the paper's fixed T/K unless asked
    assert main(["train", "--settle-tol", "0"]) == 2
    assert "settle_tol must be a finite number > 0" in capsys.readouterr().err
