"""Members side by side (frecore.model.members, frecore.training.members): each member ends with
the history, status and weights of its own separate run, to 1e-9 in float64."""
from __future__ import annotations

import math
from dataclasses import replace

import pytest
import torch

from frecore.config import ConfigError, DataConfig, NetConfig, NoiseConfig, OptimConfig, RuleConfig, RunConfig
from frecore.model import layered as member_nets  # member_matmul's home
from frecore.model.layered import member_matmul
from frecore.model.members import stack_members
from frecore.training.data import load_dataset
from frecore.training.members import groupable
from frecore.training.loop import fit, fit_members


@pytest.fixture(scope="module")
def data(mnist_root):
    return load_dataset(DataConfig(root=mnist_root, train_subset=400, test_subset=200, download=False),
                        dtype=torch.float64)


def _cfgs(rule: str, topology: str = "chain", **net) -> list[RunConfig]:
    hidden = (12, 10, 8, 9) if topology == "residual" else (12, 10)
    base = RunConfig(net=NetConfig(hidden=hidden, dtype="float64", topology=topology, skip_every=3, **net),
                     rule=RuleConfig(name=rule, free_steps=6, nudge_steps=4),
                     optim=OptimConfig(lr=3e-3, batch_size=50, epochs=2), device="cpu")
    return [base, replace(base, seed=1, net=replace(base.net, beta=0.1)),
            replace(base, seed=2, net=replace(base.net, alpha=0.5))]


def _assert_same(a, b) -> None:
    assert a.status == b.status and a.message == b.message and len(a.history) == len(b.history)
    for x, y in zip(a.history, b.history):
        for k in ("train_loss", "train_acc", "test_loss", "test_acc"):
            assert math.isclose(getattr(x, k), getattr(y, k), rel_tol=1e-9, abs_tol=1e-9), (
                k, getattr(x, k), getattr(y, k))
    for p, q in zip(a.net.weights(), b.net.weights()):
        torch.testing.assert_close(p, q, rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("rule, topology, net", [
    ("ep", "chain", {}), ("ep", "residual", {}), ("ep", "chain", {"feedback": "random"}),
    ("ep", "chain", {"readout_bias": True}), ("bp", "chain", {}), ("bp", "residual", {}),
    ("fa", "chain", {"feedback": "random"}), ("fa", "residual", {"feedback": "random"}),
    ("lra", "chain", {}), ("lra", "chain", {"feedback": "random", "readout_bias": True}),
])
def test_each_member_equals_its_own_run(data, rule, topology, net):
    cfgs = _cfgs(rule, topology, **net)
    assert groupable(cfgs)
    side_by_side = fit_members(cfgs, data)
    for cfg, got in zip(cfgs, side_by_side):
        _assert_same(got, fit(cfg, data, progress=False))


@pytest.mark.parametrize("m, threads", [(3, 2), (5, 2), (4, 2), (5, 3), (1, 2)])
def test_member_matmul_balanced_over_threads_equals_bmm(monkeypatch, m, threads):
    monkeypatch.setattr(member_nets, "BALANCE_MIN_MACS", 0)  # split even these small products
    g = torch.Generator().manual_seed(0)
    a, b, c = (torch.randn(m, 7, 5, generator=g, dtype=torch.float64),
               torch.randn(m, 5, 6, generator=g, dtype=torch.float64),
               torch.randn(m, 7, 6, generator=g, dtype=torch.float64))
    torch.testing.assert_close(member_matmul(a, b, threads=threads), torch.bmm(a, b), rtol=1e-12, atol=1e-12)
    expected = torch.baddbmm(c, a, b, alpha=0.5)
    torch.testing.assert_close(member_matmul(a, b, add_to=c, alpha=0.5, threads=threads), expected,
                               rtol=1e-12, atol=1e-12)
    owned = c.clone()
    assert member_matmul(a, b, add_to=owned, alpha=0.5, threads=threads, inplace=True) is owned
    torch.testing.assert_close(owned, expected, rtol=1e-12, atol=1e-12)
    w = b.clone().requires_grad_()
    member_matmul(a, w, threads=threads).sum().backward()  # autograd keeps plain bmm
    torch.testing.assert_close(w.grad, a.sum(1).unsqueeze(-1).expand_as(b))


def test_members_equal_their_runs_when_products_are_split_over_threads(data, monkeypatch):
    """3 members on 2 threads: two as one bmm, the third alone (member_matmul), in EP's relaxation and
    update."""
    monkeypatch.setattr(member_nets, "BALANCE_MIN_MACS", 0)
    monkeypatch.setattr(member_nets.torch, "get_num_threads", lambda: 2)
    cfgs = _cfgs("ep", "residual")
    for cfg, got in zip(cfgs, fit_members(cfgs, data)):
        _assert_same(got, fit(cfg, data, progress=False))


def _conv_cfgs(rule: str, **net) -> list[RunConfig]:
    base = RunConfig(net=NetConfig(arch="conv", channels=(3, 4), kernel=5, padding=1,
                                   activation="hard-sigmoid", feedback="symmetric", beta=0.5, dtype="float64",
                                   **net),
                     rule=RuleConfig(name=rule, free_steps=5, nudge_steps=3, beta_f=0.25),
                     optim=OptimConfig(lr=3e-3, batch_size=50, epochs=2), device="cpu")
    return [base, replace(base, seed=1, net=replace(base.net, beta=0.25)),
            replace(base, seed=2, net=replace(base.net, alpha=0.5))]


@pytest.mark.parametrize("rule, net", [
    ("ep", {}), ("ep", {"readout_bias": True, "readout_lag": 1, "pool_indices": "previous"}),
    ("ep", {"pool_indices": "free", "damping": 0.5}), ("bp", {}),
])
def test_each_conv_member_equals_its_own_run(data, rule, net):
    """Conv members fold into the channels of grouped convolutions; alpha_i and beta_i per member."""
    cfgs = _conv_cfgs(rule, **net)
    assert groupable(cfgs)
    for cfg, got in zip(cfgs, fit_members(cfgs, data)):
        _assert_same(got, fit(cfg, data, progress=False))


@pytest.mark.parametrize("nudge", ["activation", "preactivation"])
def test_each_pep_member_equals_its_own_run(data, nudge):
    """Dense P-EP (Ernoult et al.'s energy-based nets), SGD with per-layer rates as Table 1 runs it."""
    base = RunConfig(net=NetConfig(hidden=(12, 10), activation="sigmoid-s", dtype="float64"),
                     rule=RuleConfig(name="pep", free_steps=8, nudge_steps=4, beta_f=0.5, pep_nudge=nudge),
                     optim=OptimConfig(name="sgd", lr=(0.1, 0.05, 0.02), batch_size=50, epochs=2),
                     device="cpu")
    cfgs = [base, replace(base, seed=1), replace(base, seed=2)]
    assert groupable(cfgs)
    for cfg, got in zip(cfgs, fit_members(cfgs, data)):
        _assert_same(got, fit(cfg, data, progress=False))


@pytest.mark.parametrize("kind, model, in_training", [("layered", "fresh", True), ("layered", "batch", True),
                                                      ("layered", "fresh", False), ("conv", "fresh", True),])
def test_members_with_their_own_noise_equal_their_runs(data, kind, model, in_training):
    """Figures S12-S13 side by side: members differing in weight and state noise std (0 included)
    draw, each from its own generator, exactly what their own runs draw."""
    cfgs = _cfgs("ep") if kind == "layered" else _conv_cfgs("ep")
    stds = [(0.0, 0.05), (1e-3, 0.0), (1e-3, 0.1)]
    cfgs = [replace(c, noise=NoiseConfig(weight_std=w, state_std=s, state_noise_model=model,
                                         state_noise_in_training=in_training))
                                         for c, (w, s) in zip(cfgs, stds)]
    assert groupable(cfgs)
    for cfg, got in zip(cfgs, fit_members(cfgs, data)):
        _assert_same(got, fit(cfg, data, progress=False))


@pytest.mark.parametrize("rule, net", [("ep", {}), ("ep", {"agt_draw": "ordered", "feedback": "random"}),
                                       ("bp", {}), ("fa", {"feedback": "random"}),])
def test_agt_members_with_their_own_graphs_equal_their_runs(data, rule, net):
    """AGT rows draw a graph per seed (Figure S8: per P too): the stack holds the union of the graphs'
    blocks and each member computes exactly its own net; blocks it lacks stay zero."""
    cfgs = [RunConfig(net=NetConfig(hidden=(12, 10, 8, 9, 11), dtype="float64", topology="agt", agt_p=p,
                                    topology_seed=s, **net),
                      rule=RuleConfig(name=rule, free_steps=6, nudge_steps=4),
                      optim=OptimConfig(lr=3e-3, batch_size=50, epochs=2), device="cpu", seed=s)
            for s, p in ((0, 0.5), (1, 0.5), (2, 0.3))]
    assert len({c.net.graph().blocks for c in cfgs}) == 3  # three different graphs
    assert groupable(cfgs)
    results = fit_members(cfgs, data)
    for cfg, got in zip(cfgs, results):
        _assert_same(got, fit(cfg, data, progress=False))


def test_the_authors_accumulating_nudge_and_held_error_side_by_side(data):
    for rule in (RuleConfig(free_steps=6, nudge_steps=4, nudge="accumulating", readout_error="nudged"),
                 RuleConfig(free_steps=6, nudge_steps=4, hold_error=True)):
        cfgs = [replace(c, rule=rule) for c in _cfgs("ep")]
        for cfg, got in zip(cfgs, fit_members(cfgs, data)):
            _assert_same(got, fit(cfg, data, progress=False))


def _own_rates(cfgs: list[RunConfig], name: str) -> list[RunConfig]:
    """Members with their own learning rates and weight decays (per layer for one of them)."""
    n_layers = len(cfgs[0].net.hidden if cfgs[0].net.arch == "layered" else cfgs[0].net.channels) + 1
    per_layer = tuple(1e-3 * (k + 2) for k in range(n_layers))
    settings = [(3e-3, 0.0), (1e-2, 1e-3), (per_layer, 1e-2)]
    return [replace(c, optim=replace(c.optim, name=name, lr=lr, weight_decay=wd, scheduler="cosine"))
            for c, (lr, wd) in zip(cfgs, settings)]


@pytest.mark.parametrize("rule, name", [("ep", "adam"), ("ep", "adamw"), ("bp", "sgd"), ("lra", "adamw")])
def test_members_with_their_own_learning_rates_and_decays_equal_their_runs(data, rule, name):
    """Each member's optimiser groups (its lr and decay per layer, annealed from its own rate) over
    its slices of the stacked weights."""
    cfgs = _own_rates(_cfgs(rule), name)
    assert groupable(cfgs)
    for cfg, got in zip(cfgs, fit_members(cfgs, data)):
        _assert_same(got, fit(cfg, data, progress=False))


def _agt_blocks(seed: int) -> int:
    return len(NetConfig(hidden=(12, 10, 8), topology="agt", agt_p=0.5, topology_seed=seed).graph().blocks)


def test_conv_and_agt_members_with_their_own_rates_equal_their_runs(data):
    """Conv members (folded into channels) and AGT members under per-layer rates, which follow each
    member's own matrices, not the union's."""
    conv = _own_rates(_conv_cfgs("ep"), "adam")[:2]
    agt = [RunConfig(net=NetConfig(hidden=(12, 10, 8), dtype="float64", topology="agt", agt_p=0.5,
                                   topology_seed=s),
                     rule=RuleConfig(free_steps=6, nudge_steps=4),
                     optim=OptimConfig(lr=(3e-3,) * (_agt_blocks(s) + 2),
                                       batch_size=50, epochs=2), device="cpu", seed=s)
           for s in (0, 1, 3)]
    assert len({len(c.optim.lr) for c in agt}) > 1  # their graphs hold different numbers of matrices
    for cfgs in (conv, agt):
        assert groupable(cfgs)
        for cfg, got in zip(cfgs, fit_members(cfgs, data)):
            _assert_same(got, fit(cfg, data, progress=False))


@pytest.mark.parametrize("rule", [RuleConfig(free_steps=6, nudge_steps=4),
                                  RuleConfig(free_steps=6, nudge_steps=4, nudge="accumulating",
                                             readout_error="nudged"),
                                  RuleConfig(free_steps=6, nudge_steps=4, hold_error=True)])
def test_layered_ep_members_with_their_own_beta_f_equal_their_runs(data, rule):
    cfgs = [replace(c, rule=replace(rule, beta_f=b)) for c, b in zip(_cfgs("ep"), (0.1, 0.5, 1.0))]
    assert groupable(cfgs)
    for cfg, got in zip(cfgs, fit_members(cfgs, data)):
        _assert_same(got, fit(cfg, data, progress=False))


@pytest.mark.parametrize("topology, rule", [
    ("chain", RuleConfig(free_steps=40, nudge_steps=20, settle_tol=1e-4, settle_tol_nudged=1e-4)),
    ("residual", RuleConfig(free_steps=40, nudge_steps=20, settle_tol=1e-3, settle_tol_nudged=0.01,
                            settle_relative=True)),
])
def test_members_that_settle_each_at_its_own_step_equal_their_runs(data, topology, rule):
    """Relaxation stopped when settled, side by side: each member stops at its own step (the others
    go on), so its steps per epoch, history and weights are those of its own run."""
    cfgs = [replace(c, rule=rule) for c in _cfgs("ep", topology)]
    assert groupable(cfgs)
    side_by_side = fit_members(cfgs, data)
    steps = []
    for cfg, got in zip(cfgs, side_by_side):
        own = fit(cfg, data, progress=False)
        _assert_same(got, own)
        assert [h.steps for h in got.history] == [h.steps for h in own.history]
        steps.append(got.history[0].steps["free"])
    assert len(set(steps)) > 1 and max(steps) < rule.free_steps  # they settled, at different steps
    assert not groupable([replace(c, rule=rule) for c in _conv_cfgs("ep")])


def test_beta_f_differs_between_members_of_layered_ep_only():
    conv = _conv_cfgs("ep")
    assert not groupable([conv[0], replace(conv[1], rule=replace(conv[1].rule, beta_f=0.5))])
    lra = _cfgs("lra")
    assert not groupable([lra[0], replace(lra[1], rule=replace(lra[1].rule, beta_f=0.5))])
    ep = _cfgs("ep")
    with pytest.raises(ConfigError, match="beta_f must be > 0"):
        fit_members([ep[0], replace(ep[1], rule=replace(ep[1].rule, beta_f=0.0))])


@pytest.mark.parametrize("kind", ["layered", "conv"])
def test_a_diverging_member_is_recorded_and_frozen_while_the_others_go_on(data, monkeypatch, kind):
    """Member 1's weights are made non-finite (a fault no setting we allow produces in float64):
    it ends 'diverged' in epoch 1 as its own run would, and members 0 and 2 are exactly their runs."""
    from frecore.training import loop

    def faulty(nets):
        net = stack_members(nets)
        with torch.no_grad():
            net.member_weights(1)[0].view(-1)[0] = math.inf
        return net

    monkeypatch.setattr(loop, "stack_members", faulty)
    cfgs = _cfgs("ep") if kind == "layered" else _conv_cfgs("ep")
    side_by_side = fit_members(cfgs, data)
    assert side_by_side[1].status == "diverged" and side_by_side[1].history == []
    assert side_by_side[1].message == "non-finite loss or weights in epoch 1"
    for j in (0, 2):
        _assert_same(side_by_side[j], fit(cfgs[j], data, progress=False))


def test_only_equal_shapes_and_shared_settings_group():
    cfgs = _cfgs("ep")
    assert not groupable([cfgs[0], replace(cfgs[1], optim=replace(cfgs[1].optim, batch_size=40))])
    assert not groupable([cfgs[0], replace(cfgs[1], optim=replace(cfgs[1].optim, name="sgd"))])
    assert not groupable([cfgs[0], replace(cfgs[1], net=replace(cfgs[1].net, hidden=(12, 11)))])
    assert not groupable([replace(c, rule=replace(c.rule, name="pep")) for c in _conv_cfgs("ep")])
    assert not groupable([replace(c, rule=replace(c.rule, name="fa")) for c in _conv_cfgs("ep")])
    with pytest.raises(ConfigError, match="side by side"):
        fit_members([cfgs[0], replace(cfgs[1], rule=replace(cfgs[1].rule, free_steps=7))])


def test_a_sweep_side_by_side_records_the_same_rows(tmp_path, mnist_root):
    """`run --side-by-side`: a row's seeds train as one pass; the rows are those of the sweep run one
    after another (the same run ids; float32 numbers within one smoke test image)."""
    from frecore.reporting.store import load_runs
    from frecore.sweeps.driver import run_experiment
    from frecore.sweeps.executors import InProcess, groups
    from frecore.experiments import plan

    rows, seeds = ["2HL Ours (tanh, Adam)", "2HL BP (tanh, Adam)"], [0, 1, 2]
    assert [len(g) for g in groups(plan("table1", "smoke", rows=rows, seeds=seeds))] == [3, 3]
    kw = dict(rows=rows, seeds=seeds, device="cpu", data_root=mnist_root, progress=False)
    run_experiment("table1", "smoke", out_dir=str(tmp_path / "apart"), **kw)
    run_experiment("table1", "smoke", out_dir=str(tmp_path / "together"),
                   executor=InProcess(side_by_side=True), **kw)
    apart = load_runs(tmp_path / "apart" / "table1.csv").set_index("run_id").sort_index()
    together = load_runs(tmp_path / "together" / "table1.csv").set_index("run_id").sort_index()
    assert list(apart.index) == list(together.index) and (together["status"] == "ok").all()
    for col in ("best_test_acc", "final_test_acc", "final_train_acc"):
        assert ((apart[col] - together[col]).abs() <= 0.25).all(), col


def test_groups_are_sized_to_the_devices_memory(monkeypatch):
    from frecore.experiments import plan
    from frecore.sweeps.executors import groups
    from frecore.training import members

    runs = plan("table1", "smoke", rows=["2HL BP (tanh, Adam)"], seeds=[0, 1, 2, 3, 4])
    assert [len(g) for g in groups(runs)] == [5]
    monkeypatch.setattr(members, "members_that_fit", lambda cfg: 2)
    assert [len(g) for g in groups(runs)] == [2, 2, 1]


class _Cut(Exception):
    pass


def _cut_after(epoch: int):
    def on_epoch(e: int) -> None:
        if e == epoch:
            raise _Cut
    return on_epoch


def _numbers(results) -> list:
    return [(r.status, r.message, [(h.train_loss, h.train_acc, h.test_loss, h.test_acc) for h in r.history])
            for r in results]


@pytest.mark.parametrize("kind", ["layered", "conv", "own rates"])
def test_a_cut_and_continued_group_ends_with_the_uncut_numbers(data, tmp_path, kind):
    """A group checkpoints each epoch: cut after epoch 1 and run again, it ends exactly as uncut
    (the cosine schedule's and AdamW's state included, members' own optimiser groups too)."""
    cfgs = _conv_cfgs("ep") if kind == "conv" else _cfgs("bp")
    cfgs = [replace(c, optim=replace(c.optim, epochs=3, name="adamw", weight_decay=1e-3, scheduler="cosine"))
            for c in cfgs]
    if kind == "own rates":
        cfgs = [replace(c, optim=replace(c.optim, epochs=3)) for c in _own_rates(_cfgs("ep"), "adamw")]
    uncut = fit_members(cfgs, data)
    ckpt = tmp_path / "group.pt"
    with pytest.raises(_Cut):
        fit_members(cfgs, data, checkpoint=ckpt, on_epoch=_cut_after(1))
    assert ckpt.exists()
    seen: list[int] = []
    resumed = fit_members(cfgs, data, checkpoint=ckpt, on_epoch=seen.append)
    assert seen == [2, 3] and not ckpt.exists()
    assert _numbers(resumed) == _numbers(uncut)
    for a, b in zip(resumed, uncut):
        for p, q in zip(a.net.weights(), b.net.weights()):
            assert torch.equal(p, q)


def test_a_checkpoint_of_other_members_is_not_loaded(data, tmp_path, capsys):
    cfgs = _cfgs("bp")
    ckpt = tmp_path / "group.pt"
    with pytest.raises(_Cut):
        fit_members(cfgs[:2], data, checkpoint=ckpt, on_epoch=_cut_after(1))
    got = fit_members(cfgs, data, checkpoint=ckpt)
    assert "another config" in capsys.readouterr().err
    assert _numbers(got) == _numbers(fit_members(cfgs, data))


def test_a_group_that_raises_is_trained_one_by_one(tmp_path, mnist_root, monkeypatch, capsys):
    """A side-by-side pass that fails (e.g. out of device memory) costs the attempt, not the runs."""
    from frecore.reporting.store import load_runs
    from frecore.sweeps import trainer
    from frecore.sweeps.driver import run_experiment

    def broken(*args, **kwargs):
        raise RuntimeError("no grouped kernel here")

    monkeypatch.setattr(trainer, "fit_members", broken)
    run_experiment("table1", "smoke", rows=["2HL BP (tanh, Adam)"], seeds=[0, 1], device="cpu",
                   data_root=mnist_root, out_dir=str(tmp_path), progress=False, executor="side-by-side")
    runs = load_runs(tmp_path / "table1.csv")
    assert sorted(runs["seed"]) == [0, 1] and (runs["status"] == "ok").all()
    assert "2 runs side by side failed (RuntimeError: no grouped kernel here)" in capsys.readouterr().err


def test_sweeps_group_agt_rows_on_cuda_only(monkeypatch):
    """AGT members pay for the union of their graphs: on the CPU a sweep trains them one by one (0.67x
    measured side by side), on CUDA it groups them; other rows group everywhere."""
    import torch

    from frecore.experiments import plan
    from frecore.sweeps.executors import groups
    from frecore.training import members

    agt = plan("figS8", "paper", seeds=[0, 1], device="cpu")
    assert all(len(g) == 1 for g in groups(agt))
    assert max(len(g)
               for g in groups(plan("table2", "paper", rows=["MNIST 10-symm Ours"], device="cpu"))) == 5
    monkeypatch.setattr(members, "resolve_device", lambda device: torch.device("cuda"))
    monkeypatch.setattr(members, "members_that_fit", lambda cfg: 64)
    assert max(len(g) for g in groups(agt)) > 1


def _same_probe(a: dict, b: dict) -> None:
    assert set(a) == set(b) and a
    for k in a:
        both_nan = math.isnan(a[k]) and math.isnan(b[k])
        assert both_nan or math.isclose(a[k], b[k], rel_tol=1e-9, abs_tol=1e-12), (k, a[k], b[k])


@pytest.mark.parametrize("name", ["lyapunov", "dynamics"])
def test_each_members_probe_equals_its_own_runs(data, tmp_path, name):
    """A probe that reads no training batch (FTMLE/MLE, Figure 5's) is measured on each member's own
    net before training and after each epoch: its values are those of the member's own run, and a
    group cut and continued keeps them."""
    from frecore.analysis.probes import PROBES

    probe = PROBES[name]
    cfgs = _cfgs("ep")
    side_by_side = fit_members(cfgs, data, probe=probe)
    for cfg, got in zip(cfgs, side_by_side):
        own = fit(cfg, data, progress=False, probe=probe)
        _assert_same(got, own)
        _same_probe(got.probe_before, own.probe_before)
        for x, y in zip(got.history, own.history, strict=True):
            _same_probe(x.probe, y.probe)
    assert side_by_side[0].probe_before != side_by_side[1].probe_before  # each member its own net
    ckpt = tmp_path / "group.pt"
    with pytest.raises(_Cut):
        fit_members(cfgs, data, checkpoint=ckpt, on_epoch=_cut_after(1), probe=probe)
    resumed = fit_members(cfgs, data, checkpoint=ckpt, probe=probe)
    assert [(r.probe_before, [h.probe for h in r.history]) for r in resumed] == \
        [(r.probe_before, [h.probe for h in r.history]) for r in side_by_side]


def test_runs_whose_probe_reads_the_last_batch_train_alone():
    """The per-neuron error (Figures S5-S7's cells of Table S1) needs its run's own rule: those runs
    form groups of one; Table S1's other cells (FTMLE/MLE) group, one probe per group."""
    from frecore.analysis.probes import PROBES
    from frecore.experiments import plan
    from frecore.sweeps.executors import groups, planned_probe

    with pytest.raises(ConfigError, match="last training batch"):
        fit_members(_cfgs("ep"), probe=PROBES["appendix"])
    runs = plan("tableS1", "smoke", rows=[f"2HL-symm beta={b}"
                                          for b in ("0.001", "0.01", "0.1", "0.25", "4")],
                seeds=[0, 1])
    got = [[(p.row.approach, p.seed) for p in g] for g in groups(runs)]
    assert got == [[("0.001", 0)], [("0.001", 1)], [("0.01", 0), ("0.01", 1)], [("0.1", 0)], [("0.1", 1)],
                   [("0.25", 0), ("0.25", 1), ("4", 0), ("4", 1)]]
    assert [planned_probe(g[0])
            for g in groups(runs)] == ["appendix"] * 2 + ["lyapunov"] + ["appendix"] * 2 + ["lyapunov"]


def test_a_side_by_side_sweep_of_table_s1_groups_its_lyapunov_cells_and_probes_every_run(
        tmp_path, mnist_root, monkeypatch):
    """Table S1 side by side: a cell's seeds that carry FTMLE/MLE train as one pass, each member
    probed; a cell of Figure S5 (the per-neuron error) trains its runs alone."""
    import json

    from frecore.reporting.store import load_runs
    from frecore.sweeps import trainer
    from frecore.sweeps.driver import run_experiment
    from frecore.sweeps.executors import InProcess

    passes = []

    def spy(cfgs, *args, **kw):
        passes.append((len(cfgs), getattr(kw.get("probe"), "__name__", None)))
        return fit_members(cfgs, *args, **kw)

    monkeypatch.setattr(trainer, "fit_members", spy)
    run_experiment("tableS1", "smoke", rows=["2HL-symm beta=0.01", "2HL-symm beta=0.1"], seeds=[0, 1],
                   device="cpu", data_root=mnist_root, out_dir=str(tmp_path), progress=False,
                   executor=InProcess(side_by_side=True))
    assert passes == [(2, "lyapunov_probe")]
    runs = load_runs(tmp_path / "tableS1.csv")
    assert (runs["status"] == "ok").all() and len(runs) == 4
    for _, r in runs.iterrows():
        keys = {"ftmle", "mle"} | ({"neuron_error"} if r["row"] == "2HL-symm beta=0.1" else set())
        assert set(json.loads(r["probe_before"])) == {"ftmle", "mle"}
        assert all(set(h["probe"]) == keys for h in json.loads(r["history"]))


def test_a_group_checkpoint_of_the_format_before_one_loop_still_continues(data, tmp_path):
    """Groups banked before fit and fit_members were one loop were keyed by their configs and
    streams; such a checkpoint continues to the uncut numbers."""
    import json

    from frecore.training.train import config_key

    cfgs = [replace(c, optim=replace(c.optim, epochs=2)) for c in _cfgs("bp")]
    uncut = fit_members(cfgs, data)
    ckpt = tmp_path / "group.pt"
    with pytest.raises(_Cut):
        fit_members(cfgs, data, checkpoint=ckpt, on_epoch=_cut_after(1))
    state = torch.load(ckpt, weights_only=True)
    state["config"] = json.dumps({"members": [config_key(c) for c in cfgs], "streams": ["order", "noise"]})
    torch.save(state, ckpt)
    assert _numbers(fit_members(cfgs, data, checkpoint=ckpt)) == _numbers(uncut)
