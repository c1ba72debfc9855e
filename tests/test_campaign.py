"""The campaign: budgets, deadlines that pause at an epoch boundary, and a cut campaign continued on
a fresh copy of the committed files ending with exactly the rows of an uncut one."""
import json
import shutil

import pytest
import torch

from frecore.config import ConfigError, DataConfig, NetConfig, OptimConfig, RuleConfig, RunConfig
from frecore.experiments import PaperResult, Row, register_experiment, unregister
from frecore.experiments.campaign import CAMPAIGN, QUEUES, CampaignEntry
from frecore.experiments import get_rows, plan
from frecore.reporting.store import load_runs
from frecore.sweeps import campaign
from frecore.training.data import load_dataset
from frecore.training.train import RunPaused
from frecore.training.loop import fit

TINY = RunConfig(net=NetConfig(hidden=(16,), beta=0.01),
                 rule=RuleConfig(name="ep", free_steps=4, nudge_steps=2),
                 optim=OptimConfig(name="adam", lr=1e-3, batch_size=100, epochs=3),
                 data=DataConfig(dataset="mnist"))


def campaign_test_table() -> list[Row]:
    """A two-row table whose quick profile trains 1% of each of 3 epochs: a campaign in seconds."""
    bp = RunConfig(net=TINY.net, rule=RuleConfig(name="bp"), optim=TINY.optim, data=TINY.data)
    return [Row(label, "tiny", label, cfg, PaperResult(90.0, 0.1, None, None, "3/100"), quick_epochs=3,
                quick_fraction=0.01) for label, cfg in (("tiny EP", TINY), ("tiny BP", bp))]


@pytest.fixture
def tiny_experiment():
    register_experiment(campaign_test_table)
    yield "campaign_test_table"
    unregister("campaign_test_table")


QUEUE = (CampaignEntry("x: tiny EP", "campaign_test_table", ("tiny EP",), profile="quick", seeds=(0,)),
         CampaignEntry("x: tiny BP side by side", "campaign_test_table", ("tiny BP",), profile="quick",
                       seeds=(0, 1), side_by_side=True))


def test_budgets_parse_and_bad_ones_are_refused():
    assert campaign.parse_budget("150m") == 9000 and campaign.parse_budget("2.5h") == 9000
    assert campaign.parse_budget("90s") == 90 and campaign.parse_budget("10") == 600
    for bad in ("soon", "-5m", "0", "infm", "nanh"):
        with pytest.raises(ConfigError):
            campaign.parse_budget(bad)


def test_the_queue_names_registered_rows_only():
    for entry in CAMPAIGN:
        labels = {r.label for r in get_rows(entry.experiment)}
        assert set(entry.rows) <= labels, entry
        assert plan(entry.experiment, entry.profile, rows=list(entry.rows), seeds=entry.seeds,
                    variant=entry.variant, estimator=entry.estimator, dtype=entry.dtype)
    assert set(QUEUES) == {"paper", "smoke"}
    assert {e.profile for e in QUEUES["smoke"]} == {"smoke"}  # the demo queue trains in seconds, nothing else


def test_a_deadline_pauses_at_an_epoch_boundary_and_the_run_continues_exactly(tmp_path, mnist_root):
    cfg = RunConfig(net=TINY.net, rule=TINY.rule,
                    optim=OptimConfig(name="adam", lr=1e-3, batch_size=100, epochs=2),
                    data=DataConfig(dataset="mnist", root=mnist_root, train_subset=300, test_subset=200))
    data = load_dataset(cfg.data, device=torch.device("cpu"))
    whole = fit(cfg, data, progress=False)
    ckpt = tmp_path / "run.pt"
    with pytest.raises(RunPaused) as paused:
        fit(cfg, data, progress=False, checkpoint=ckpt, until=0.0)  # the first epoch always runs
    assert paused.value.epoch == 1 and ckpt.exists()
    continued = fit(cfg, data, progress=False, checkpoint=ckpt)
    assert [h.test_acc for h in continued.history] == [h.test_acc for h in whole.history]
    assert [h.train_loss for h in continued.history] == [h.train_loss for h in whole.history]
    with pytest.raises(ConfigError):
        fit(cfg, data, progress=False, until=0.0)  # nothing to continue from


def _committed_copy(src, dst):
    """What a fresh clone holds of an out dir: no claims, no lock files, no ignored checkpoints."""
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns(".claims", ".*.lock", ".checkpoints"))


def test_a_cut_campaign_continues_on_a_fresh_clone_with_the_same_rows(tiny_experiment, tmp_path, mnist_root):
    quiet = lambda line: None  # noqa: E731
    uncut = tmp_path / "uncut"
    left = campaign.run_campaign(QUEUE, budget_s=3600, out_dir=str(uncut), data_root=mnist_root,
                                 progress=False, echo=quiet)
    assert left == []
    cut = tmp_path / "cut"
    lines: list[str] = []
    left = campaign.run_campaign(QUEUE, budget_s=campaign.MARGIN_S + 1e-3, out_dir=str(cut),
                                 data_root=mnist_root, progress=False, echo=lines.append)
    assert any("paused" in line for line in lines) and len(left) == 2  # cut mid-run, after its first epoch
    assert list((cut / "campaign" / "checkpoints").glob("*.pt"))  # the committed folder holds the run
    fresh = tmp_path / "fresh"
    _committed_copy(cut, fresh)
    planned = campaign.plan_units(QUEUE, str(fresh), threads=1, data_root=mnist_root)[0]
    assert planned[0].done_epochs == 1  # the plan knows where it stands
    assert planned[0].source == campaign.OWN_EPOCHS and planned[0].epoch_s > 0  # and its own epoch time
    left = campaign.run_campaign(QUEUE, budget_s=3600, out_dir=str(fresh), data_root=mnist_root,
                                 progress=False, echo=quiet)
    assert left == [] and not list((fresh / "campaign" / "checkpoints").glob("*.pt"))
    a = load_runs(uncut / "campaign_test_table.csv").set_index("run_id").sort_index()
    b = load_runs(fresh / "campaign_test_table.csv").set_index("run_id").sort_index()
    assert list(a.index) == list(b.index) and len(a) == 3  # same runs, none twice
    for col in ("best_test_acc", "final_test_acc", "best_train_acc", "epochs_run", "status", "seed"):
        assert list(a[col]) == list(b[col]), col
    assert (fresh / "campaign" / "timings.csv").exists()
    # measured times now drive the estimates
    units = campaign.plan_units(QUEUE[:1], str(fresh), threads=1, data_root=mnist_root)[0]
    assert units == []


def test_the_cli_prints_the_plan_and_refuses_bad_input(tmp_path, capsys):
    from frecore.cli import main

    assert main(["campaign", "--dry-run", "--out-dir", str(tmp_path), "--entries", "^a: Table 1 2HL BP"]) == 0
    out = capsys.readouterr().out
    assert "0 of 5 runs done" in out and "ETA" in out and "2HL BP (seed 4)" in out
    assert main(["campaign", "--budget", "soon", "--dry-run", "--out-dir", str(tmp_path)]) == 2
    assert main(["campaign", "--entries", "nothing matches this", "--out-dir", str(tmp_path)]) == 2
    assert main(["campaign", "--queue", "nope", "--out-dir", str(tmp_path)]) == 2
    assert "error:" in capsys.readouterr().err


def test_pages_show_the_protocol_numbers_beside_the_quick_ones():
    import math

    import pandas as pd

    from frecore.reporting.markdown import headline_table, markdown_table, with_protocol

    base = {"arch": "2HL", "approach": "Ours", "reading": "text", "default_reading": True, "n_diverged": 0,
            "best_train_mean": 99.0, "paper_test": 98.39, "paper_std": 0.04, "paper_train": 100.0,
            "diff_vs_paper": -0.2, "wall_s_mean": 10.0, "epoch_s_mean": 1.0,
            "extrapolated_paper_wall_s": 50.0, "paper_wct_s": 76.0, "paper_epochs": 50, "device": "cpu",
            "epoch_fraction": 1.0}
    quick = pd.DataFrame([{**base, "row": "2HL Ours", "n": 5, "epochs": 20, "best_test_mean": 98.17,
                           "best_test_std": 0.09, "final_test_mean": 98.12, "final_test_std": 0.07},
                          {**base, "row": "2HL BP", "n": 5, "epochs": 20, "best_test_mean": 98.2,
                           "best_test_std": 0.02, "final_test_mean": 98.15, "final_test_std": 0.06}])
    paper = quick.assign(n=[2, 0], epochs=[50, 0], best_test_mean=[98.31, math.nan],
                         best_test_std=[0.01, math.nan], final_test_mean=[98.2, math.nan],
                         final_test_std=[0.03, math.nan])
    merged = with_protocol(quick, paper)
    assert list(merged["row"]) == ["2HL Ours", "2HL BP"]
    table, head = markdown_table(merged), headline_table(merged)
    protocol = "98.31 ± 0.01 / 98.20 ± 0.03 (n=2, 50 ep)"
    assert protocol in table and protocol in head
    # the BP line has its '-' cell
    assert table.splitlines()[3].count("|") == table.splitlines()[0].count("|")
    assert with_protocol(quick, None) is quick and "protocol" not in markdown_table(quick)


def test_a_unit_measured_this_session_updates_the_estimate_of_the_next(tiny_experiment, tmp_path, mnist_root):
    """After the first seed is measured slower than its estimate, the second no longer 'fits'."""
    queue = (CampaignEntry("x: tiny EP", "campaign_test_table", ("tiny EP",), profile="quick", seeds=(0, 1)),)
    out = tmp_path / "out"
    (out / "campaign").mkdir(parents=True)
    (out / "campaign" / "timings.csv").write_text(
        "experiment,row,profile,threads,members,epochs,seconds,host\n"
        "campaign_test_table,tiny EP,quick,1,1,3,0.003,cpu\n")  # a (false) 1 ms per epoch
    t = [0.0]

    def clock():  # each call advances a fake clock; a trained unit costs 1000 s of it
        t[0] += 1.0
        return t[0]

    real = campaign._record_timing

    def slow_timing(out_dir, unit, threads, epochs, seconds, device):
        t[0] += 1000.0
        real(out_dir, unit, threads, epochs, 1000.0, device)

    campaign._record_timing = slow_timing
    lines: list[str] = []
    try:
        left = campaign.run_campaign(queue, budget_s=campaign.MARGIN_S + 1500, out_dir=str(out),
                                     data_root=mnist_root, progress=False, echo=lines.append, clock=clock)
    finally:
        campaign._record_timing = real
    assert any(line.startswith("[1/2] done") for line in lines)
    # re-estimated from the 1000 s measured
    assert any(line.startswith("[2/2] skip") for line in lines), lines
    assert len(left) == 1


def test_run_with_a_budget_pauses_and_the_same_command_continues_exactly(
        tiny_experiment, tmp_path, mnist_root, capsys):
    """`run --budget` (a GPU lent for minutes): a cut run is not recorded, its checkpoint continues it."""
    from frecore.cli import main

    args = ["run", tiny_experiment, "--profile", "quick", "--rows", "tiny EP", "--seeds", "0", "--device",
            "cpu", "--data-root", mnist_root, "--no-progress"]
    assert main([*args, "--out-dir", str(tmp_path / "uncut")]) == 0
    cut = tmp_path / "cut"
    assert main([*args, "--out-dir", str(cut), "--budget", "0.001s"]) == 0  # the first epoch always runs
    assert "1 run(s) paused by --budget" in capsys.readouterr().out
    assert not (cut / f"{tiny_experiment}.csv").exists() or load_runs(cut / f"{tiny_experiment}.csv").empty
    assert list((cut / ".checkpoints").glob("*.pt"))
    assert main([*args, "--out-dir", str(cut)]) == 0
    a, b = load_runs(tmp_path / "uncut" / f"{tiny_experiment}.csv"), load_runs(cut / f"{tiny_experiment}.csv")
    assert len(b) == 1 and int(b["epochs_run"].iloc[0]) == 3
    for col in ("run_id", "best_test_acc", "final_test_acc", "best_train_acc"):
        assert list(a[col]) == list(b[col]), col
    def curve(runs):  # every epoch's losses and accuracies (its seconds differ)
        return [{k: v for k, v in e.items() if k != "seconds"} for e in json.loads(runs["history"].iloc[0])]
    assert curve(a) == curve(b)
    assert main([*args, "--out-dir", str(cut), "--budget", "soon"]) == 2
    assert "budget must be a duration" in capsys.readouterr().err


def test_after_the_deadline_no_further_run_starts(tiny_experiment, tmp_path, mnist_root):
    """One-epoch runs never reach an epoch boundary to pause at: the sweep starts its first run, then
    no other once the deadline has passed; the same call without one trains the rest."""
    import time

    from frecore.sweeps.driver import run_experiment

    kw = dict(rows=["tiny BP"], seeds=[0, 1, 2], data_root=mnist_root, out_dir=str(tmp_path), progress=False)
    run_experiment(tiny_experiment, "smoke", until=time.time(), **kw)  # smoke: one epoch each
    assert len(load_runs(tmp_path / f"{tiny_experiment}.csv")) == 1
    run_experiment(tiny_experiment, "smoke", **kw)
    assert sorted(load_runs(tmp_path / f"{tiny_experiment}.csv")["seed"]) == [0, 1, 2]


def test_the_standing_shows_finished_and_paused_runs_beside_the_paper(tiny_experiment, tmp_path, mnist_root,
                                                                      capsys):
    from frecore.cli import main

    quiet = lambda line: None  # noqa: E731
    out = tmp_path / "out"
    campaign.run_campaign(QUEUE[:1], budget_s=campaign.MARGIN_S + 1e-3, out_dir=str(out),
                          data_root=mnist_root, progress=False, echo=quiet)
    text = campaign.standing(QUEUE, str(out), mnist_root)
    assert "| x: tiny EP | 0 of 1, 3 epochs | - | - | 90.00 ± 0.10 | - | seed 0: epoch 1/3 |" in text
    assert "Not started (1 entries): x: tiny BP side by side." in text
    campaign.run_campaign(QUEUE, budget_s=3600, out_dir=str(out), data_root=mnist_root, progress=False,
                          echo=quiet)
    runs = load_runs(out / "campaign_test_table.csv").set_index("seed")
    bp = runs[runs["row"] == "tiny BP"]["best_test_acc"]
    mean, std = bp.mean(), bp.std(ddof=1)
    text = campaign.standing(QUEUE, str(out), mnist_root)
    assert f"| x: tiny BP side by side | 2 of 2, 3 epochs | {mean:.2f} ± {std:.2f} |" in text
    assert f"| {mean - 90:+.2f} | - |" in text and "Not started" not in text and "epoch 1/3" not in text
    page = tmp_path / "campaign.md"
    page.write_text("# Campaign\n\nno block here\n")
    argv = ["campaign", "--queue", "smoke", "--out-dir", str(out), "--standing", str(page)]
    assert main(argv) == 2  # one clear message: the page has no block to rewrite
    assert "error: --standing:" in capsys.readouterr().err
    page.write_text("# Campaign\n<!-- campaign-standing:start -->\nold\n"
                    "<!-- campaign-standing:end -->\ntail\n")
    assert main(argv) == 0
    written = page.read_text()
    assert "old" not in written and "| smoke: Table 1 2HL BP | 0 of 2" not in written  # nothing trained there
    assert "Not started (2 entries)" in written and written.endswith("tail\n")


def test_a_stop_request_pauses_after_the_epoch_in_progress_and_the_campaign_continues_exactly(
        tiny_experiment, tmp_path, mnist_root, monkeypatch):
    """A stop (the CLI's SIGTERM/SIGINT) arriving mid-epoch: that epoch finishes, is checkpointed and timed,
    no other unit starts; the next campaign ends with the rows of an uncut one."""
    from frecore.training import loop
    from frecore.training.train import Deadline

    quiet = lambda line: None  # noqa: E731
    uncut = tmp_path / "uncut"
    campaign.run_campaign(QUEUE, budget_s=3600, out_dir=str(uncut), data_root=mnist_root, progress=False,
                          echo=quiet)
    stop, real_epoch = Deadline(), loop._epoch

    def epoch_with_a_signal(*args, **kwargs):  # the signal comes while the first epoch trains
        stop.stop()
        return real_epoch(*args, **kwargs)

    monkeypatch.setattr(loop, "_epoch", epoch_with_a_signal)
    cut, lines = tmp_path / "cut", []
    left = campaign.run_campaign(QUEUE, budget_s=3600, out_dir=str(cut), data_root=mnist_root, progress=False,
                                 echo=lines.append, stop=stop)
    monkeypatch.setattr(loop, "_epoch", real_epoch)
    assert len(left) == 2 and not any(line.startswith("[2/2]") for line in lines), lines
    assert any("paused x: tiny EP (seed 0) after epoch 1/3" in line and "stopped on request" in line
               for line in lines), lines
    assert campaign.checkpoint_progress(campaign.unit_checkpoint(str(cut), left[0].runs))[0] == 1
    assert left[0].done_epochs == 1 and left[0].source == campaign.OWN_EPOCHS  # the ETA of what is left
    assert (cut / "campaign" / "timings.csv").read_text().count("\n") == 2  # the epoch trained is timed
    campaign.run_campaign(QUEUE, budget_s=3600, out_dir=str(cut), data_root=mnist_root, progress=False,
                          echo=quiet)
    a = load_runs(uncut / "campaign_test_table.csv").set_index("run_id").sort_index()
    b = load_runs(cut / "campaign_test_table.csv").set_index("run_id").sort_index()
    assert list(a.index) == list(b.index) and len(a) == 3
    for col in ("best_test_acc", "final_test_acc", "epochs_run", "status"):
        assert list(a[col]) == list(b[col]), col


def test_a_signal_stops_after_the_epoch_a_later_ctrl_c_at_once_and_handlers_are_restored(capfd):
    import os
    import signal
    import time

    from frecore.cli import stop_on_signal
    from frecore.training.train import Deadline

    before = signal.signal(signal.SIGINT, signal.SIG_IGN)  # as in a campaign started with `... &` by a script
    term = signal.getsignal(signal.SIGTERM)  # the default, or Ray's once a Ray test has run in this process
    try:
        stop = Deadline()
        with stop_on_signal(stop):
            os.kill(os.getpid(), signal.SIGTERM)
            assert stop.stopped and stop.passed()
            os.kill(os.getpid(), signal.SIGTERM)  # make or `timeout` passing the same one on: no effect
            os.kill(os.getpid(), signal.SIGINT)  # within a second of the first: taken as the same stop
            time.sleep(1.1)
            with pytest.raises(KeyboardInterrupt):  # Ctrl-C again, later: at once
                os.kill(os.getpid(), signal.SIGINT)
        assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
        assert signal.getsignal(signal.SIGTERM) is term
    finally:
        signal.signal(signal.SIGINT, before)
    assert capfd.readouterr().err.count("stopping after the epoch in progress") == 1


def test_a_stopped_campaign_starts_nothing_and_a_claimed_run_is_skipped_not_paused(
        tiny_experiment, tmp_path, mnist_root):
    from frecore.reporting.store import RunClaims
    from frecore.training.train import Deadline

    stopped = Deadline()
    stopped.stop()
    lines: list[str] = []
    left = campaign.run_campaign(QUEUE, budget_s=3600, out_dir=str(tmp_path), data_root=mnist_root,
                                 progress=False, echo=lines.append, stop=stopped)
    assert len(left) == 2 and not any(line.startswith("[") for line in lines)
    other = RunClaims(tmp_path / ".claims")  # another campaign on the same folder trains the first unit
    first = campaign.plan_units(QUEUE, str(tmp_path), threads=1, data_root=mnist_root)[0][0]
    assert other.take(first.runs[0].run_id)
    lines = []
    try:
        left = campaign.run_campaign(QUEUE, budget_s=3600, out_dir=str(tmp_path), data_root=mnist_root,
                                     progress=False, echo=lines.append)
    finally:
        other.release_all()
    assert any(line.startswith("[1/2] skipped 1 run(s)") for line in lines), lines
    assert any(line.startswith("[2/2] done") for line in lines), lines  # and the campaign went on
    assert len(left) == 1 and left[0].runs[0].run_id == first.runs[0].run_id


def test_a_unit_longer_than_any_budget_starts_and_is_paused_by_it(tiny_experiment, tmp_path, mnist_root):
    """Estimated at 900 s against a 400 s budget it could never fit one: it starts (one epoch fits),
    here finishing at once; a unit whose single epoch exceeds the budget left still waits."""
    out = tmp_path / "out"
    (out / "campaign").mkdir(parents=True)
    (out / "campaign" / "timings.csv").write_text(
        "experiment,row,profile,threads,members,epochs,seconds,host\n"
        "campaign_test_table,tiny EP,quick,1,1,3,900,cpu\n"  # 300 s an epoch
        "campaign_test_table,tiny BP,quick,1,1,3,3000,cpu\n")  # 1000 s an epoch
    lines: list[str] = []
    left = campaign.run_campaign(QUEUE, budget_s=campaign.MARGIN_S + 400, out_dir=str(out),
                                 data_root=mnist_root, progress=False, echo=lines.append)
    assert any(line.startswith("[1/2] start x: tiny EP") and "the budget's end pauses it" in line
               for line in lines), lines
    assert any(line.startswith("[1/2] done") for line in lines)
    assert any(line.startswith("[2/2] skip") for line in lines) and len(left) == 1


def test_which_units_start_on_the_budget_left():
    entry, long_entry = QUEUE[0], CampaignEntry("x: long", "campaign_test_table", ("tiny EP",), long=True)

    def unit(epoch_s, epochs=10, done=0, e=entry):
        return campaign.Unit(e, [], epochs, done, epoch_s, "test")

    assert campaign.starts(unit(10), budget_s=1000, budget_left=100)  # 100 s: fits
    assert campaign.starts(unit(None), budget_s=1000, budget_left=1)  # nothing measured: try it
    assert not campaign.starts(unit(20), budget_s=1000, budget_left=100)  # 200 s: the next budget holds it
    assert campaign.starts(unit(200), budget_s=1000, budget_left=300)  # 2000 s: no budget would
    assert not campaign.starts(unit(400), budget_s=1000, budget_left=300)  # not even one epoch fits
    assert campaign.starts(unit(20, done=2), budget_s=1000, budget_left=100)  # paused before: continue it
    assert campaign.starts(unit(20, e=long_entry), budget_s=1000, budget_left=100)


def test_estimates_count_the_rows_current_setting_on_its_device_and_thread_count():
    cfg = TINY
    older = RunConfig(net=NetConfig(hidden=(64,), beta=0.01), rule=TINY.rule, optim=TINY.optim,
                      data=TINY.data)

    def row(config, device, epoch_s, profile="quick"):
        return {"row": "tiny EP", "profile": profile, "status": "ok", "device": device,
                "config": json.dumps(config.to_dict()), "epochs_run": 2, "epoch_s": epoch_s,
                "wall_s": 2 * epoch_s}

    recorded = {"x": [row(cfg, "cpu:x86_64 x2", 10.0), row(cfg, "cpu:Intel64 Family 6 x2", 10.0),
                      row(older, "cpu:x86_64 x1", 500.0), row(cfg, "cuda:NVIDIA H200", 0.5),
                      row(cfg, "cpu:x86_64 x1", 1.0, profile="smoke")]}
    seconds, source = campaign.estimate_epoch_s("x", "tiny EP", 2, 1, [], recorded, cfg)
    assert seconds == pytest.approx(2 * 18.0) and source == "2 recorded run(s) (x1.8 where on more threads)"
    assert campaign.estimate_epoch_s("x", "tiny EP", 1, 2, [], recorded, cfg) == (10.0, "2 recorded run(s)")
    assert campaign.estimate_epoch_s("x", "tiny EP", 1, 1, [], recorded, cfg, device="cuda")[0] == 0.5
    alone = {"x": [recorded["x"][2]]}  # only an older setting recorded: better than nothing, and said
    assert campaign.estimate_epoch_s("x", "tiny EP", 1, 1, [], alone, cfg) == (
        500.0, "1 recorded run(s) of older settings")
    timings = [{"experiment": "x", "row": "tiny EP", "threads": "1", "members": "1", "epochs": "2",
                "seconds": "8", "host": "cuda:NVIDIA H200"}]  # a GPU campaign's: not the CPU's
    assert campaign.estimate_epoch_s("x", "tiny EP", 1, 1, timings, recorded, cfg)[0] == pytest.approx(18.0)
    assert campaign.estimate_epoch_s("x", "tiny EP", 1, 1, timings, recorded, cfg, device="cuda") == (
        4.0, "campaign, 1 measured")


def test_a_paused_units_pace_is_read_from_its_longest_member_on_this_device(tmp_path):
    """A diverged member stops recording; the pace comes from the member still training, and only from
    the epochs trained on the campaign's kind of device (pace_from on)."""
    def history(seconds):
        return [{"epoch": e, "seconds": s} for e, s in enumerate(seconds, 1)]

    path = tmp_path / "group.pt"
    torch.save({"epoch": 4, "wall_s": 24.0, "pace_from": 3, "device": "cpu",
                "members": [{"history": history([1.0, 1.0])}, {"history": history([1.0, 1.0, 5.0, 5.0])}]},
               path)
    assert campaign.checkpoint_progress(path, "cpu") == (4, 10.0)  # 5 s a member, 2 members, no rest
    assert campaign.checkpoint_progress(path, "cuda") == (4, None)


def test_a_readings_campaign_timings_are_its_own(tiny_experiment):
    """A float64 unit's measured epochs neither stand for the float32 row's nor borrow from them."""
    (p32,) = plan(tiny_experiment, "quick", rows=["tiny EP"], seeds=[0])
    (p64,) = plan(tiny_experiment, "quick", rows=["tiny EP"], seeds=[0], dtype="float64")
    assert campaign.timing_row(p32) == "tiny EP"
    assert campaign.timing_row(p64) == f"tiny EP [{p32.reading}+float64]"
    timings = [{"experiment": tiny_experiment, "row": campaign.timing_row(p64), "threads": "1",
                "members": "1", "epochs": "2", "seconds": "40", "host": "cpu:x86_64 x1"}]
    assert campaign.estimate_epoch_s(tiny_experiment, "tiny EP", 1, 1, timings, {}, p32.config) == (
        None, "nothing measured")
    assert campaign.estimate_epoch_s(tiny_experiment, "tiny EP", 1, 1, timings, {}, p64.config,
                                     timed_as=campaign.timing_row(p64)) == (20.0, "campaign, 1 measured")
