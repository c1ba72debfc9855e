import os
import signal
import subprocess
import sys
import time

import pytest

from frecore.sweeps import driver as sweep
from frecore.sweeps import trainer
from frecore.experiments import plan
from frecore.training.data import MissingDataError
from frecore.reporting.store import RunClaims, load_runs
from frecore.reporting.markdown import markdown_table
from tests.conftest import REPO

ROWS = ["2HL Ours (tanh, Adam)", "2HL BP (tanh, Adam)"]


def test_sweep_writes_runs_summary_and_plot_and_resumes(tmp_path, mnist_root, monkeypatch):
    calls = []
    real_fit = trainer.fit
    monkeypatch.setattr(trainer, "fit", lambda cfg, data, progress,
                        **kw: calls.append(cfg) or real_fit(cfg, data, progress, **kw))
    out = sweep.run_experiment("table1", "smoke", rows=ROWS[:1], device="cpu", data_root=mnist_root,
                               out_dir=str(tmp_path), progress=False)
    assert out.runs_csv.exists() and out.summary_csv.exists() and out.plot_png.stat().st_size > 1000
    assert len(calls) == 1
    out = sweep.run_experiment("table1", "smoke", rows=ROWS, device="cpu", data_root=mnist_root,
                               out_dir=str(tmp_path), progress=False)
    assert len(calls) == 2  # the first row was already done
    assert len(out.runs) == 2 and list(out.summary["row"]) == ROWS
    assert set(out.runs["device"]) == {out.runs["device"].iloc[0]} and out.runs["git_commit"].notna().all()


def test_a_failing_run_is_recorded_and_the_sweep_goes_on(tmp_path, mnist_root, monkeypatch):
    real_fit = trainer.fit

    def flaky(cfg, data, progress, **kw):
        if cfg.rule.name == "ep":
            raise RuntimeError("simulated crash")
        return real_fit(cfg, data, progress, **kw)

    monkeypatch.setattr(trainer, "fit", flaky)
    out = sweep.run_experiment("table1", "smoke", rows=ROWS, device="cpu", data_root=mnist_root,
                               out_dir=str(tmp_path), progress=False)
    status = dict(zip(out.runs["row"], out.runs["status"]))
    assert status == {ROWS[0]: "failed", ROWS[1]: "ok"}
    assert "simulated crash" in out.runs.set_index("row").loc[ROWS[0], "message"]
    monkeypatch.setattr(trainer, "fit", real_fit)
    out = sweep.run_experiment("table1", "smoke", rows=ROWS, device="cpu", data_root=mnist_root,
                               out_dir=str(tmp_path), progress=False)
    assert sorted(out.runs["status"]) == ["ok", "ok"] and len(out.runs) == 2  # retried, not duplicated


def test_a_killed_sweep_resumes_without_losing_or_duplicating_rows(tmp_path, mnist_root):
    rows = ROWS + ["3HL Ours (tanh, Adam)"]
    cmd = [sys.executable, "-m", "frecore", "run", "table1", "--profile", "smoke", "--device", "cpu",
           "--data-root", mnist_root, "--out-dir", str(tmp_path), "--no-progress", "--rows", *rows]
    csv = tmp_path / "table1.csv"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    deadline = time.time() + 120
    while time.time() < deadline and proc.poll() is None and not (csv.exists() and len(load_runs(csv)) >= 1):
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    done_before = len(load_runs(csv)) if csv.exists() else 0
    assert done_before >= 1
    second = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert second.returncode == 0, second.stderr
    runs = load_runs(csv)
    expected = {p.run_id for p in plan("table1", "smoke", rows=rows, device="cpu", data_root=mnist_root)}
    assert sorted(runs["run_id"]) == sorted(expected)  # each exactly once
    assert (runs["status"] == "ok").all()


def test_rows_without_data_are_reported_not_run_and_the_rest_go_on(tmp_path, mnist_root):
    rows = ["MNIST 5-symm BP", "CIFAR-10 5-symm BP"]  # the test machine has MNIST only
    out = sweep.run_experiment("table2", "smoke", rows=rows, device="cpu", data_root=mnist_root,
                               out_dir=str(tmp_path), progress=False)
    s = out.summary.set_index("row")
    assert s.loc["MNIST 5-symm BP", "n"] == 1 and s.loc["MNIST 5-symm BP", "note"] == ""
    assert s.loc["CIFAR-10 5-symm BP", "n"] == 0 and s.loc["CIFAR-10 5-symm BP", "note"] == "not run: no data"
    assert "not run: no data" in markdown_table(out.summary)
    with pytest.raises(MissingDataError):  # nothing at all to run on: the set-up is wrong, say so
        sweep.run_experiment("table2", "smoke", rows=rows[1:], device="cpu", data_root=mnist_root,
                             out_dir=str(tmp_path), progress=False)


def test_a_run_of_some_rows_adds_to_the_profiles_summary_and_never_shrinks_it(tmp_path, mnist_root):
    """`run --rows A` after `run --rows B` (the campaign's units, a newcomer's single row): the
    summary file and plot still hold B's line beside A's (they once held only the last selection);
    what the call returns is its selection (a notebook's table and checks)."""
    a, b = "2HL BP (tanh, Adam)", "2HL Ours (tanh, Adam)"
    for row in (b, a):
        out = sweep.run_experiment("table1", "smoke", rows=[row], seeds=[0], device="cpu",
                                   data_root=mnist_root, out_dir=str(tmp_path), progress=False,
                                   executor="inprocess")
    from frecore.reporting.summary import load_summary

    written = load_summary(out.summary_csv)
    assert set(written.loc[written["n"] > 0, "row"]) == {a, b}
    assert len(written) > 2  # every row of the table, the rest 'not run'
    assert list(out.summary["row"]) == [a] and len(out.runs) == 1


class _TwoInFlight:
    """An executor with two runs in flight at once, as a Ray sweep has: the first comes back as
    `first(trainer, run)` (a pause, a row); then, as RayExecutor.map does, a stop cancels the second
    (the executor returns early), else the second comes back and the rest are offered."""

    def __init__(self, first):
        self.first = first
        self.offered_after: list[bool] = []  # skip's answer for each run offered after both came back
        self.cancelled = False

    def map(self, runs, trainer_, skip):
        a, b = runs[:2]
        assert not skip(a) and not skip(b)  # both claimed and dispatched
        yield a, self.first(trainer_, a)
        if trainer_.until is not None and trainer_.until.stopped:
            self.cancelled = True
            return
        yield b, trainer_(b)
        self.offered_after = [skip(p) for p in runs[2:]]


def test_a_run_paused_beside_others_lets_them_finish_and_starts_no_more(tmp_path, mnist_root, capsys):
    """A Ray task's pause at the deadline comes back as a value; the run in flight beside it still ends
    (recorded: no epoch lost to a cancel), and no further run is dispatched."""
    from frecore.training.train import RunPaused

    ex = _TwoInFlight(lambda t, p: RunPaused(1, tmp_path / "a.pt"))
    runs = plan("table1", "smoke", rows=ROWS[1:], seeds=[0, 1, 2], device="cpu", data_root=mnist_root)
    out = sweep.run_experiment("table1", "smoke", rows=ROWS[1:], seeds=[0, 1, 2], device="cpu",
                               data_root=mnist_root, out_dir=str(tmp_path), progress=False, executor=ex)
    assert out.paused == [runs[0].run_id] and not ex.cancelled and ex.offered_after == [True]
    assert list(load_runs(tmp_path / "table1.csv")["run_id"]) == [runs[1].run_id]
    assert f"paused after epoch 1 (checkpoint {tmp_path / 'a.pt'})" in capsys.readouterr().out
    claims = RunClaims(tmp_path / ".claims")
    assert all(claims.take(p.run_id) for p in runs)  # every claim released


def test_runs_a_stop_cancels_in_flight_are_named_paused(tmp_path, mnist_root, capsys):
    """A stop (a signal) is not seen by a Ray task: the executor cancels what is still in flight; the
    driver keeps the row that came back and names the cancelled run paused."""
    from frecore.training.train import Deadline

    stop = Deadline()
    ex = _TwoInFlight(lambda t, p: (t(p), stop.stop())[0])  # stopped while the second run trains
    runs = plan("table1", "smoke", rows=ROWS[1:], seeds=[0, 1, 2], device="cpu", data_root=mnist_root)
    out = sweep.run_experiment("table1", "smoke", rows=ROWS[1:], seeds=[0, 1, 2], device="cpu",
                               data_root=mnist_root, out_dir=str(tmp_path), progress=False, executor=ex,
                               until=stop)
    assert ex.cancelled and out.paused == [runs[1].run_id]
    assert list(load_runs(tmp_path / "table1.csv")["run_id"]) == [runs[0].run_id]
    assert "stopped; 1 run(s) in flight cancelled" in capsys.readouterr().out


def test_a_stop_as_a_side_by_side_group_ends_keeps_every_members_row(tmp_path, mnist_root, monkeypatch):
    """The group's rows came back together, its checkpoint already deleted: all are recorded."""
    from frecore.training.train import Deadline

    stop = Deadline()
    real = trainer.RunTrainer.group
    monkeypatch.setattr(trainer.RunTrainer, "group", lambda self, ps: (real(self, ps), stop.stop())[0])
    out = sweep.run_experiment("table1", "smoke", rows=ROWS[1:], seeds=[0, 1, 2], device="cpu",
                               data_root=mnist_root, out_dir=str(tmp_path), progress=False,
                               executor="side-by-side", until=stop)
    assert out.paused == [] and sorted(load_runs(tmp_path / "table1.csv")["seed"]) == [0, 1, 2]
