"""EP's estimators (RuleConfig.estimator): one-sided (the paper's), centered, random-sign."""
from __future__ import annotations

import math
from dataclasses import replace

import pytest
import torch

from frecore.analysis.estimators import loglog_slope, normalized_update, seed_for_sign, update_limit
from frecore.config import (ConfigError, DataConfig, NetConfig, OptimConfig, RuleConfig, RunConfig,
                            non_default_fields)
from frecore.rules import build_rule
from frecore.training.data import load_dataset
from frecore.training.members import groupable
from frecore.training.loop import fit, fit_members
from tests.conftest import make_batch, make_net
from tests.test_conv import SHAPE, _batch as conv_batch
from tests.test_ep import _cos, _path_products
from tests.test_members import _assert_same, _cfgs, _conv_cfgs


def _rel(a: list[torch.Tensor], b: list[torch.Tensor]) -> float:
    """Relative distance of a from b, every tensor as one vector."""
    a, b = torch.cat([t.flatten() for t in a]), torch.cat([t.flatten() for t in b])
    return float((a - b).norm() / b.norm())


def _hidden(u: list[torch.Tensor]) -> list[torch.Tensor]:
    return u[:-1]  # every weight but W_f (these nets have no readout bias)


def test_the_default_leaves_run_ids_alone_and_other_rules_refuse_it():
    assert RuleConfig().estimator == "one-sided"
    assert "rule" not in non_default_fields(RunConfig())
    assert non_default_fields(RunConfig(rule=RuleConfig(estimator="centered"))) == {
        "rule": {"estimator": "centered"}}
    with pytest.raises(ConfigError, match="unknown estimator 'two-sided'"):
        RuleConfig(estimator="two-sided")
    for rule in ("pep", "lra", "bp", "fa"):
        with pytest.raises(ConfigError, match=f"is EP's \\(rule 'ep'\\); rule '{rule}'"):
            RuleConfig(name=rule, estimator="centered")


def test_the_estimator_flag_reaches_the_rule_config(capsys):
    from frecore.cli import build_parser, config_from_args, main

    a = build_parser().parse_args(["train", "--estimator", "random-sign"])
    assert config_from_args(a).rule.estimator == "random-sign"
    assert main(["train", "--estimator", "both"]) == 2
    assert "unknown estimator 'both'" in capsys.readouterr().err
    assert main(["train", "--rule", "pep", "--estimator", "centered"]) == 2


NUDGES = [dict(), dict(hold_error=True), dict(nudge="accumulating", readout_error="nudged")]


@pytest.mark.parametrize("nudge", NUDGES)
def test_fitted_error_slopes_are_one_for_one_sided_and_two_for_centered(nudge):
    """Against the exact beta_f -> 0 limit (forward-mode AD), on a small net whose free phase has
    settled: the one-sided error falls as beta_f, the centered one as beta_f^2."""
    net = make_net(hidden=(12, 10), beta=0.3, dtype="float64", seed=2)
    x, y = make_batch(n=16, dtype=torch.float64, seed=3)
    rule = RuleConfig(free_steps=150, nudge_steps=8, **nudge)  # s^0 settled to 1e-12
    ref = update_limit(net, x, y, rule)
    betas = [0.04, 0.02, 0.01, 0.005, 0.0025]
    errors = {est: [_rel(_hidden(normalized_update(net, x, y, replace(rule, beta_f=b, estimator=est))),
                         _hidden(ref))
                    for b in betas] for est in ("one-sided", "centered")}
    assert loglog_slope(betas, errors["one-sided"]) == pytest.approx(1.0, abs=0.1)
    assert loglog_slope(betas, errors["centered"]) == pytest.approx(2.0, abs=0.15)
    assert all(c < o for c, o in zip(errors["centered"], errors["one-sided"]))


def test_centered_and_one_sided_agree_as_beta_f_goes_to_zero():
    net = make_net(hidden=(12, 10), beta=0.3, dtype="float64", seed=4)
    x, y = make_batch(n=16, dtype=torch.float64, seed=5)
    rule = RuleConfig(free_steps=150, nudge_steps=10)
    gaps = []
    for b in (1e-2, 1e-3, 1e-4):
        one, cen = (normalized_update(net, x, y, replace(rule, beta_f=b, estimator=e))
                    for e in ("one-sided", "centered"))
        gaps.append(_rel(one, cen))
    assert gaps[-1] < 1e-4 and gaps[0] / gaps[1] > 8 and gaps[1] / gaps[2] > 8


def test_centered_cancels_what_an_unsettled_free_phase_leaves_in_the_one_sided_update():
    """With T too short for the free phase to settle, s^beta - s^0 keeps the K further steps' drift
    however small beta_f: the one-sided error grows as beta_f shrinks, the centered one does not."""
    net = make_net(hidden=(12, 10), beta=0.5, dtype="float64", seed=2)
    x, y = make_batch(n=16, dtype=torch.float64, seed=3)
    rule = RuleConfig(free_steps=3, nudge_steps=8)
    ref = update_limit(net, x, y, rule)
    err = {(e, b): _rel(_hidden(normalized_update(net, x, y, replace(rule, beta_f=b, estimator=e))),
                        _hidden(ref))
           for e in ("one-sided", "centered") for b in (1e-2, 1e-3)}
    assert err["one-sided", 1e-3] > 5 * err["one-sided", 1e-2] > 0.5
    assert err["centered", 1e-3] < 1e-5


@pytest.mark.parametrize("estimator, sign", [("one-sided", None), ("centered", None),
                                             ("random-sign", 1.0), ("random-sign", -1.0)])
def test_each_estimator_approaches_bp_in_the_weak_feedback_limit(estimator, sign):
    """tests/test_ep.py's bound (beta_i = beta_f = 1e-3, float64) holds for every estimator and sign."""
    beta, beta_f = 1e-3, 1e-3
    net = make_net(hidden=(30, 25, 20), n_in=16, n_out=5, beta=beta, dtype="float64", seed=3)
    x, y = make_batch(n=32, n_in=16, n_out=5, dtype=torch.float64, seed=4)
    ep = build_rule(RuleConfig(free_steps=40, nudge_steps=40, beta_f=beta_f, estimator=estimator))
    if sign is not None:
        ep.seed_streams([seed_for_sign(sign)])
    ep.compute_gradients(net, x, y)
    ep_grads = [w.grad.clone() for w in net.weights()]
    build_rule(RuleConfig(name="bp")).compute_gradients(net, x, y)
    for i, (g_ep, g_bp, scale) in enumerate(zip(ep_grads, [w.grad for w in net.weights()],
                                                _path_products(net.beta, beta_f))):
        assert _cos(g_ep, g_bp) > 0.99, f"weight {i}: cosine {_cos(g_ep, g_bp):.4f}"
        assert abs(float(g_ep.norm() / (scale * g_bp.norm())) - 1) < 0.02, f"weight {i}"


def test_random_sign_averaged_over_both_signs_is_the_centered_estimate():
    """((s^+ - s^0) + (s^- - s^0) / -1) / 2 = (s^+ - s^-) / 2, to rounding."""
    net = make_net(hidden=(12, 10), beta=0.5, dtype="float64")
    x, y = make_batch(dtype=torch.float64)
    rule = RuleConfig(free_steps=6, nudge_steps=5, beta_f=0.3, readout_error="nudged")
    plus, minus = (normalized_update(net, x, y, replace(rule, estimator="random-sign"), s)
                   for s in (1.0, -1.0))
    centered = normalized_update(net, x, y, replace(rule, estimator="centered"))
    for p, m, c in zip(plus, minus, centered):
        torch.testing.assert_close((p + m) / 2, c, rtol=1e-10, atol=1e-13)
    # sigma = +1: one-sided
    torch.testing.assert_close(plus[:-1], normalized_update(net, x, y, rule)[:-1], rtol=0, atol=0)


def test_random_sign_draws_a_reproducible_sign_sequence_from_the_seed():
    def signs(seed: int, n: int = 40) -> list[float]:
        rule = build_rule(RuleConfig(estimator="random-sign"))
        rule.seed_streams([seed])
        return [rule.draw_signs()[0] for _ in range(n)]

    a = signs(7)
    assert a == signs(7) and set(a) == {1.0, -1.0} and a != signs(8)
    assert 10 < a.count(-1.0) < 30
    assert build_rule(RuleConfig()).draw_signs() == []  # the other estimators hold no stream


def test_random_sign_nudges_at_the_drawn_sign_and_divides_by_it():
    net = make_net(hidden=(12, 10), beta=0.5, dtype="float64")
    x, y = make_batch(dtype=torch.float64)
    rule = build_rule(RuleConfig(estimator="random-sign", beta_f=0.2))
    rule.seed_streams([3])
    mirror = build_rule(RuleConfig(estimator="random-sign"))
    mirror.seed_streams([3])
    seen = set()
    for _ in range(6):  # one draw per batch
        sign = mirror.draw_signs()[0]
        seen.add(sign)
        signed = build_rule(RuleConfig(beta_f=0.2))
        signed.beta_f = 0.2 * sign  # one-sided at sigma beta_f
        for a, b in zip(rule.phases(net, x, y).ds, signed.phases(net, x, y).ds):
            torch.testing.assert_close(a, b / sign, rtol=0, atol=0)
    assert seen == {1.0, -1.0}


@pytest.fixture(scope="module")
def data(mnist_root):
    return load_dataset(DataConfig(root=mnist_root, train_subset=400, test_subset=200, download=False),
                        dtype=torch.float64)


def test_a_random_sign_run_is_reproducible_and_its_seed_decides_the_signs(data):
    cfg = RunConfig(net=NetConfig(hidden=(16,), dtype="float64"),
                    rule=RuleConfig(free_steps=5, nudge_steps=3, estimator="random-sign"),
                    optim=OptimConfig(batch_size=100, epochs=2), device="cpu")
    a, b = fit(cfg, data, progress=False), fit(cfg, data, progress=False)
    _assert_same(a, b)
    other = fit(replace(cfg, rule=replace(cfg.rule, estimator="one-sided")), data, progress=False)
    assert [h.train_loss for h in other.history] != [h.train_loss for h in a.history]


def test_a_cut_random_sign_run_continues_with_its_own_signs(data, tmp_path):
    from tests.test_train import _Cut, _cut_after, _numbers

    cfg = RunConfig(net=NetConfig(hidden=(16,), dtype="float64"),
                    rule=RuleConfig(free_steps=5, nudge_steps=3, estimator="random-sign"),
                    optim=OptimConfig(batch_size=100, epochs=3), device="cpu", seed=4)
    uncut = fit(cfg, data, progress=False)
    ckpt = tmp_path / "run.pt"
    with pytest.raises(_Cut):
        fit(cfg, data, progress=False, on_epoch=_cut_after(1), checkpoint=ckpt)
    resumed = fit(cfg, data, progress=False, checkpoint=ckpt)
    assert _numbers(resumed) == _numbers(uncut)


@pytest.mark.parametrize("estimator, topology, net", [
    ("centered", "chain", {}), ("centered", "residual", {}), ("centered", "chain", {"feedback": "random"}),
    ("random-sign", "chain", {}), ("random-sign", "residual", {}),
])
def test_each_member_equals_its_own_run(data, estimator, topology, net):
    cfgs = [replace(c, rule=replace(c.rule, estimator=estimator)) for c in _cfgs("ep", topology, **net)]
    assert groupable(cfgs)
    for cfg, got in zip(cfgs, fit_members(cfgs, data)):
        _assert_same(got, fit(cfg, data, progress=False))


def test_members_that_differ_in_beta_f_equal_their_runs_with_both_new_estimators(data):
    for estimator in ("centered", "random-sign"):
        cfgs = [replace(c, rule=replace(c.rule, estimator=estimator, beta_f=b))
                for c, b in zip(_cfgs("ep"), (0.1, 0.3, 0.05))]
        cfgs = [replace(cfgs[0], seed=s, rule=c.rule) for s, c in enumerate(cfgs)]
        for cfg, got in zip(cfgs, fit_members(cfgs, data)):
            _assert_same(got, fit(cfg, data, progress=False))


@pytest.mark.parametrize("estimator", ["centered", "random-sign"])
def test_each_conv_member_equals_its_own_run(data, estimator):
    cfgs = [replace(c, rule=replace(c.rule, estimator=estimator)) for c in _conv_cfgs("ep")]
    for cfg, got in zip(cfgs, fit_members(cfgs, data)):
        _assert_same(got, fit(cfg, data, progress=False))


@pytest.mark.parametrize("net_kw", [{}, {"readout_lag": 1, "pool_indices": "previous", "readout_bias": True}])
def test_conv_random_sign_over_both_signs_is_the_centered_estimate(net_kw):
    """The conv path of both estimators (here no power law is pinned: max-pool argmax flips and
    hard-sigmoid kinks make the conv update piecewise in beta_f, docs/readings.md)."""
    from frecore.model.conv import ConvFRENet

    cfg = NetConfig(arch="conv", channels=(4, 6), kernel=3, padding=1, activation="hard-sigmoid", beta=0.2,
                    dtype="float64", **net_kw)
    net = ConvFRENet(cfg, SHAPE, 3, torch.Generator().manual_seed(0))
    x, y = conv_batch(n=8)
    rule = RuleConfig(free_steps=12, nudge_steps=5, beta_f=0.25, readout_error="nudged")
    plus, minus = (normalized_update(net, x, y, replace(rule, estimator="random-sign"), s)
                   for s in (1.0, -1.0))
    centered = normalized_update(net, x, y, replace(rule, estimator="centered"))
    for p, m, c in zip(plus, minus, centered):
        torch.testing.assert_close((p + m) / 2, c, rtol=1e-10, atol=1e-13)
    assert _rel(_hidden(plus), _hidden(centered)) > 1e-3  # the two phases differ: not a vacuous identity


def test_centered_counts_both_nudged_phases_when_they_settle():
    net = make_net(hidden=(30, 25), beta=0.05, dtype="float64")
    x, y = make_batch(dtype=torch.float64)
    rules = {e: build_rule(RuleConfig(free_steps=60, nudge_steps=40, settle_tol=1e-10, settle_tol_nudged=1e-9,
                                      estimator=e)) for e in ("one-sided", "centered")}
    for r in rules.values():
        r.compute_gradients(net, x, y)
    one, cen = (rules[e].take_step_counts() for e in ("one-sided", "centered"))
    assert cen["free"] == one["free"] and one["nudged"] < cen["nudged"] <= 2 * 40
    assert math.isclose(cen["nudged"], 2 * one["nudged"], rel_tol=0.2)


def test_an_estimator_reading_plans_ep_rows_only_and_is_summarised_beside_the_default(tmp_path, mnist_root):
    """run --estimator centered: EP rows run with the centered estimator as '<reading>+centered'
    (other run ids than the default's), other rules' rows as registered; the summary gets a line
    for the new reading beside the default's, which keeps its own runs."""
    from frecore.experiments import plan
    from frecore.sweeps.driver import run_experiment

    default = {p.row.label: p for p in plan("table1", "smoke", seeds=[0])}
    centered = {p.row.label: p for p in plan("table1", "smoke", seeds=[0], estimator="centered")}
    for label, p in centered.items():
        if p.config.rule.name == "ep":
            assert p.reading == f"{default[label].reading}+centered" and p.config.rule.estimator == "centered"
            assert p.run_id != default[label].run_id
        else:
            assert p.run_id == default[label].run_id and p.reading == default[label].reading
    with pytest.raises(ConfigError, match="unknown estimator"):
        plan("table1", "smoke", estimator="two-sided")
    row = "2HL Ours (tanh, Adam)"
    for estimator in (None, "centered"):
        out = run_experiment("table1", "smoke", rows=[row], seeds=[0], device="cpu", data_root=mnist_root,
                             out_dir=str(tmp_path), progress=False, executor="inprocess", estimator=estimator)
    lines = out.summary.set_index("reading")
    reading = default[row].reading
    assert set(lines.index) == {reading, f"{reading}+centered"}
    assert lines.loc[f"{reading}+centered", "approach"].endswith(f"[{reading}+centered]")
    assert lines.loc[reading, "n"] == 1 == lines.loc[f"{reading}+centered", "n"]
    # the call returns the runs it planned (a campaign unit's log line reads their best accuracy)
    assert list(out.runs["reading"]) == [f"{reading}+centered"]


def test_the_estimator_study_writes_its_points_and_slopes_through_the_store(tmp_path, mnist_root, capsys):
    """`python -m frecore estimators`: the one-sided update's error against its limit falls as beta_f
    (slope 1), the centered one's as beta_f^2 (slope 2); bad input is one message and exit 2."""
    import pandas as pd

    from frecore.cli import main

    out = tmp_path / "est.csv"
    assert main(["estimators", "--nets", "2hl", "--batch", "4", "--betas", "0.1", "0.01", "--stages", "init",
                 "--no-cost", "--data-root", mnist_root, "--out", str(out)]) == 0
    points, summary = pd.read_csv(out), pd.read_csv(tmp_path / "est_summary.csv")
    assert set(points.estimator) >= {"one-sided", "centered"} and set(points.stage) == {"init"}
    slope = summary[summary.hidden.astype(bool)].groupby("estimator").slope.median()
    assert abs(slope["one-sided"] - 1) < 0.1 and abs(slope["centered"] - 2) < 0.2
    assert main(["estimators", "--nets", "3hl", "--out", str(out)]) == 2
    assert "unknown net '3hl'" in capsys.readouterr().err
