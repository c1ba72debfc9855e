"""Every registered rule honours the protocol: fills every gradient, predicts, checks its net."""
import pytest
import torch

from frecore.config import ConfigError, NetConfig, RuleConfig
from frecore.rules import RULES, build_rule
from tests.conftest import make_batch, make_net


@pytest.mark.parametrize("name", sorted(RULES))
@pytest.mark.parametrize("hidden", [(12,), (12, 10), (12, 10, 9)])
def test_rule_fills_every_gradient(name, hidden):
    feedback = "random" if name == "fa" else "symmetric"
    rule = build_rule(RuleConfig(name=name))
    activation = "sigmoid-s" if name == "pep" else "tanh"
    cfg = NetConfig(hidden=tuple(hidden), feedback=feedback, activation=activation)
    net = rule.build_net(cfg, 8, 4, torch.Generator().manual_seed(0))
    x, y = make_batch()
    rule.check(net.cfg)
    stats = rule.compute_gradients(net, x, y)
    for w in net.weights():
        assert w.grad is not None and w.grad.shape == w.shape
        assert torch.isfinite(w.grad).all() and w.grad.abs().sum() > 0
    assert 0 <= int(stats.correct) <= x.shape[0]
    assert torch.isfinite(stats.loss_sum)
    logits = rule.predict(net, x)
    assert logits.shape == (x.shape[0], 4) and not logits.requires_grad


def test_bp_gradient_is_autograd_of_cross_entropy():
    net = make_net(hidden=(12, 10), dtype="float64")
    x, y = make_batch(dtype=torch.float64)
    build_rule(RuleConfig(name="bp")).compute_gradients(net, x, y)
    h1 = torch.tanh(x @ net.w_in.t())
    h2 = torch.tanh(h1 @ net.w_blocks[0].t())
    loss = torch.nn.functional.cross_entropy(h2 @ net.w_out.t(), y)
    for w, g in zip(net.weights(), torch.autograd.grad(loss, net.weights())):
        torch.testing.assert_close(w.grad, g)


def test_fa_needs_random_feedback():
    with pytest.raises(ConfigError, match="needs fixed random feedback"):
        build_rule(RuleConfig(name="fa")).check(NetConfig(feedback="symmetric"))


def test_each_rule_reads_only_the_settings_groups_it_names():
    """A rule's own settings live in its group (frecore.config.rules); a field another rule's group
    declares is never read by it (its source is searched for `cfg.<field>` and `rule.<field>`)."""
    import inspect
    import re
    from dataclasses import fields

    from frecore.config import RULE_SETTINGS, RuleConfig
    from frecore.rules import RULES

    every = {f.name for f in fields(RuleConfig)}
    # RuleConfig is the union, nothing more
    assert every == {f.name for g in RULE_SETTINGS for f in fields(g)}
    for name, rule in RULES.items():
        source = inspect.getsource(inspect.getmodule(rule))
        read = set(re.findall(r"\b(?:cfg|rule)\.(\w+)", source)) & every
        allowed = {f.name for g in rule.settings for f in fields(g)}
        assert read <= allowed, f"rule {name} reads {sorted(read - allowed)} outside its settings groups"
        assert rule.settings == () or read, name  # a rule that names groups reads from them
