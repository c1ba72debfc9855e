"""The net protocol the rules are written against (frecore.model.protocol): EP's update is the
vector-Jacobian product of each net's bottom-up inputs, and the rules and training loop never ask
a net for its class."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
import torch

from frecore.config import NetConfig, RuleConfig
from frecore.model.build import build_fre_net
from frecore.model.members import stack_members
from frecore.rules import build_rule

ROOT = Path(__file__).resolve().parents[1]

LAYERED = NetConfig(hidden=(7, 6, 5), alpha=(1.0, 0.7), beta=(0.2, 0.1), dtype="float64", readout_bias=True)
AGT = NetConfig(hidden=(6, 6, 6, 6), alpha=1.0, beta=0.2, topology="agt", agt_p=0.8,
                agt_draw="ordered", feedback="random", dtype="float64")
CONV = NetConfig(arch="conv", channels=(2, 3), kernel=3, padding=1, beta=(0.3,), alpha=(1.0,),
                 dtype="float64", readout_lag=1, readout_bias=True)


def _nets(cfg: NetConfig, members: int) -> tuple[torch.nn.Module, torch.Tensor, torch.Tensor]:
    shape = (1, 8, 8) if cfg.arch == "conv" else 16
    nets = [build_fre_net(cfg, shape, 4, torch.Generator().manual_seed(s)) for s in range(max(members, 1))]
    x = torch.rand(5, 64 if cfg.arch == "conv" else 16, dtype=torch.float64,
                   generator=torch.Generator().manual_seed(9))
    y = torch.tensor([0, 1, 2, 3, 1])
    if members == 0:
        return nets[0], x, y
    return stack_members(nets), x.expand(members, *x.shape).contiguous(), y.expand(members, *y.shape)


@pytest.mark.parametrize("cfg", [LAYERED, AGT, CONV], ids=["layered", "agt-ordered", "conv"])
@pytest.mark.parametrize("members", [0, 3], ids=["one net", "3 members"])
def test_eps_update_is_the_vjp_of_the_nets_bottom_up_inputs(cfg, members):
    """local_gradients (written out) equals autograd's VJP of local_inputs with (ds, e_p), weight by
    weight: the one definition of EP's update, for every net; a weight nothing reads gets zeros."""
    net, x, y = _nets(cfg, members)
    rule = build_rule(RuleConfig(free_steps=6, nudge_steps=3, beta_f=0.5))
    p = rule.phases(net, x, y)
    weights = net.weights()
    with torch.enable_grad():
        pairs = [(o, g) for o, g in zip(net.local_inputs(x, p.free), [*p.ds, p.e_readout]) if o is not None]
        vjp = torch.autograd.grad([o for o, _ in pairs], weights, [g for _, g in pairs], allow_unused=True)
    got = net.local_gradients(x, p.free, p.ds, p.e_readout)
    assert len(got) == len(weights)
    for w, a, b in zip(weights, got, vjp):
        torch.testing.assert_close(a, torch.zeros_like(w) if b is None else b, rtol=1e-12, atol=1e-12)
    if cfg is AGT:
        assert any(b is None for b in vjp)  # the ordered draw's feedback-only blocks: nothing learns


FORBIDDEN = re.compile(r"isinstance\([^)]*(Net|Stack)\b|singledispatch|type\([^)]*\) is \w*Net")


@pytest.mark.parametrize("folder", ["frecore/rules", "frecore/training"])
def test_rules_and_training_never_ask_a_net_for_its_class(folder):
    """Rules and the training loop are written against the protocol: no isinstance or singledispatch
    on net classes (frecore/model/members.py's STACKS table is where a net's kind picks its stack)."""
    hits = [f"{path.relative_to(ROOT)}:{i}: {line.strip()}" for path in sorted((ROOT / folder).rglob("*.py"))
            for i, line in enumerate(path.read_text().splitlines(), 1) if FORBIDDEN.search(line)]
    assert hits == []



ARCH_BRANCH = re.compile(r"\.arch\s*(==|!=|in\b)|\[[\w.]*\.arch\]|\.get\([\w.]*\.arch\b")


def test_no_arch_string_branches_outside_the_builder():
    """What an arch can do is asked of frecore.model.build (`supports`, `check_input`, `sizes`); only
    the builder and the config that declares the archs' fields compare arch strings."""
    allowed = {ROOT / "frecore/model/build.py"}
    hits = [f"{path.relative_to(ROOT)}:{i}: {line.strip()}"
            for path in sorted((ROOT / "frecore").rglob("*.py"))
            if path not in allowed and "config" not in path.relative_to(ROOT / "frecore").parts
            for i, line in enumerate(path.read_text().splitlines(), 1) if ARCH_BRANCH.search(line)]
    assert hits == []
    assert ARCH_BRANCH.search('if cfg.net.arch == "conv":')  # the pattern finds what it is for
    assert ARCH_BRANCH.search("RULES.get(c.net.arch, ())") and ARCH_BRANCH.search("x = T[cfg.arch]")


def test_supports_knows_each_feature_and_refuses_an_unknown_one():
    from frecore.config import ConfigError, NetConfig
    from frecore.model.build import ARCH_SUPPORTS, FEATURES, supports
    from frecore.rules import build_rule
    from frecore.config import RuleConfig

    layered, conv = NetConfig(), NetConfig(arch="conv", channels=(2, 3), kernel=3, padding=1)
    assert set(ARCH_SUPPORTS) == {"layered", "conv"} and FEATURES == ARCH_SUPPORTS["layered"]
    assert supports(conv, "ep-members") and not supports(conv, "feedback-alignment")
    with pytest.raises(ValueError):
        supports(layered, "telepathy")
    for rule in (RuleConfig(name="fa"), RuleConfig(name="lra"), RuleConfig(name="ep", nudge="accumulating")):
        build_rule(rule).check(NetConfig(feedback="random") if rule.name == "fa" else layered)
        with pytest.raises(ConfigError):
            build_rule(rule).check(conv)
