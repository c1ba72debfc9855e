"""A sweep's bill before it starts (`frecore plan`, FRESH=1) and its progress lines while it runs."""
import io
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from frecore.cli import main
from frecore.experiments import plan
from frecore.reporting.notebook import PROGRESS_PREFIX
from frecore.reporting.store import RUN_COLUMNS
from frecore.sweeps.driver import run_experiment
from frecore.sweeps.progress import ProgressLines, estimate, hms, recorded_runs
from tests.conftest import REPO

ROW = "2HL BP (tanh, Adam)"


class Clock:
    def __init__(self):
        self.t = 0.0

    def __call__(self):
        return self.t


def test_lines_count_runs_and_scale_the_eta_by_how_runs_compare_with_their_estimates():
    todo = plan("table1", "smoke", rows=["2HL Ours (tanh, Adam)", ROW], seeds=[0, 1])
    out, clock = io.StringIO(), Clock()
    lines = ProgressLines("table1", todo, {p.run_id: 100.0 for p in todo}, stream=out, clock=clock)
    lines.start(todo[0])
    assert "ETA 0:06:40" in out.getvalue()  # four runs of 100 s each
    clock.t = 200.0
    lines.end(todo[0], {"status": "ok", "wall_s": 200.0, "best_test_acc": 91.5, "epochs_run": 1})
    last = out.getvalue().splitlines()[-1]
    assert last.startswith(
        f"{PROGRESS_PREFIX}table1 run 1/4 done: 2HL Ours (tanh, Adam) seed 0: ok, 1 epochs")
    assert "best so far 91.50% (2HL Ours (tanh, Adam) seed 0)" in last
    assert "ETA 0:10:00" in last  # the first run took twice its estimate: three more at 200 s
    lines.drop(todo[1])
    lines.start(todo[2])
    assert f"run 2/3 start: {ROW} seed 0, 1 epochs (about 0:01:40)" in out.getvalue().splitlines()[-1]
    assert all(ln.startswith(PROGRESS_PREFIX) for ln in out.getvalue().splitlines())


def test_without_estimates_the_eta_is_the_mean_measured_run():
    todo = plan("table1", "smoke", rows=[ROW], seeds=[0, 1, 2])
    out, clock = io.StringIO(), Clock()
    lines = ProgressLines("table1", todo, {}, stream=out, clock=clock)
    lines.start(todo[0])
    assert "ETA ?" in out.getvalue() and "(about" not in out.getvalue()
    clock.t = 50.0
    lines.end(todo[0], {"status": "ok", "wall_s": 50.0, "best_test_acc": 60.0, "epochs_run": 1})
    assert "ETA 0:01:40" in out.getvalue().splitlines()[-1]  # two runs left at 50 s each


def test_side_by_side_members_each_cost_their_share_of_the_group(tmp_path):
    todo = plan("table1", "smoke", rows=[ROW], seeds=[0, 1, 2])
    base = {c: "" for c in RUN_COLUMNS} | {
        "experiment": "table1", "row": ROW, "reading": todo[0].reading, "profile": "smoke", "seed": 0,
        "epochs": 1,
        "epochs_run": 1, "status": "ok", "epoch_s": 5.0, "git_commit": "abc", "device": "cpu:x",
        "config": json.dumps(todo[0].config.to_dict()),
        "history": json.dumps([{"epoch": 1, "train_loss": 1.0, "train_acc": 50.0, "test_loss": 1.0,
                                "test_acc": 50.0, "seconds": 5.0}])}
    pd.DataFrame([{**base, "run_id": todo[0].run_id, "wall_s": 30.0},  # one group of two: the same wall time
                  {**base, "run_id": todo[1].run_id, "wall_s": 30.0}], columns=RUN_COLUMNS).to_csv(
        tmp_path / "table1.csv", index=False)
    recorded = recorded_runs("table1", tmp_path, reference=None)
    assert list(recorded["share_s"]) == [15.0, 15.0]
    assert estimate(todo[0], recorded, "cpu:x") == 15.0
    assert estimate(todo[2], recorded, "cpu:x") == 15.0  # another seed: the row's time per epoch
    assert math.isnan(estimate(plan("table1", "smoke", rows=["2HL Ours (tanh, Adam)"])[0], recorded, "cpu:x"))


@pytest.fixture(scope="module")
def recorded(tmp_path_factory, mnist_root):
    """A one-run smoke sweep of Table 1's 2HL BP row, printing progress lines."""
    ref = tmp_path_factory.mktemp("ref")
    run_experiment("table1", "smoke", rows=[ROW], seeds=[0], device="cpu", data_root=mnist_root,
                   out_dir=str(ref), progress="lines", executor="inprocess")
    return ref


def test_the_sweep_prints_a_line_as_each_run_starts_and_ends(tmp_path, mnist_root, capsys):
    run_experiment("table1", "smoke", rows=[ROW], seeds=[1], device="cpu", data_root=mnist_root,
                   out_dir=str(tmp_path), progress="lines", executor="inprocess")
    out, err = capsys.readouterr()
    lines = out.splitlines()
    assert lines[0].startswith(f"{PROGRESS_PREFIX}table1 [smoke]: 1 runs to train")
    assert lines[1].startswith(f"{PROGRESS_PREFIX}table1 run 1/1 start: {ROW} seed 1, 1 epochs")
    assert lines[2].startswith(f"{PROGRESS_PREFIX}table1 run 1/1 done: {ROW} seed 1: ok")
    assert "sweep done" in lines[2]
    assert "best so far" in lines[2] and "epoch" not in err  # plain lines, no bars


def test_plan_prints_the_bill_from_recorded_times(recorded, tmp_path, capsys, mnist_root):
    mine = tmp_path / "mine"
    wall = recorded_runs("table1", recorded, reference=None)["share_s"].iloc[0]
    assert main(["plan", "table1", "--profile", "smoke", "--rows", ROW, "--seeds", "0", "1", "--out-dir",
                 str(mine), "--reference", str(recorded), "--device", "cpu", "--fresh"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == (f"plan: table1 [smoke] into {mine}: 2 runs, 2 to train, 0 reused "
                      f"(already recorded there)")
    assert out[1].startswith(f"estimated time: {hms(2 * wall)} on ")  # seed 1 priced by seed 0's time
    assert main(["plan", "table1", "--profile", "smoke", "--rows", ROW, "--seeds", "0", "1", "--out-dir",
                 str(recorded), "--device", "cpu"]) == 0
    assert "1 to train, 1 reused" in capsys.readouterr().out


def test_fresh_refuses_a_folder_that_holds_planned_runs(recorded, capsys):
    assert main(["plan", "table1", "--profile", "smoke", "--rows", ROW, "--out-dir", str(recorded),
                 "--device", "cpu", "--fresh"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: --fresh: ") and err.count("\n") == 1


def test_make_fresh_prints_the_plan_and_stops_before_training(recorded):
    """make's experiment rule runs the plan first: FRESH=1 into a folder with runs stops there."""
    venv = Path(sys.prefix)
    p = subprocess.run(["make", "--no-print-directory", "-o", str(venv / ".frecore-installed"), "table1",
                        f"VENV={venv}", "PROFILE=smoke", "FRESH=1", f"RESULTS={recorded}", "DEVICE=cpu"],
                       cwd=REPO, capture_output=True, text=True, timeout=120,
                       env={**os.environ, "PYTHONPATH": str(REPO)})
    assert p.returncode != 0
    assert "frecore plan table1 --profile smoke" in p.stdout and "error: --fresh" in p.stderr
    assert "papermill" not in p.stdout  # nothing trained


def test_plan_of_a_figure_finds_the_runs_it_shares_in_their_owners_csv(tmp_path, capsys):
    """Figure S1 draws Table S1's runs: they are recorded in tableS1.csv, and no figS1.csv exists (this
    crashed with KeyError 'share_s' and would have priced every shared run as still to train)."""
    shared = plan("figS1", "smoke")[0]
    assert shared.experiment == "tableS1"
    base = {c: "" for c in RUN_COLUMNS} | {
        "run_id": shared.run_id, "experiment": "tableS1", "row": shared.row.label, "reading": shared.reading,
        "profile": "smoke", "seed": shared.seed, "epochs": 1, "epochs_run": 1, "status": "ok", "wall_s": 4.0,
        "epoch_s": 4.0, "git_commit": "abc", "device": "cpu:x", "config": json.dumps(shared.config.to_dict()),
        "history": json.dumps([{"epoch": 1, "train_loss": 1.0, "train_acc": 50.0, "test_loss": 1.0,
                                "test_acc": 50.0, "seconds": 4.0}])}
    pd.DataFrame([base], columns=RUN_COLUMNS).to_csv(tmp_path / "tableS1.csv", index=False)
    assert main(["plan", "figS1", "--profile", "smoke", "--out-dir", str(tmp_path), "--reference",
                 str(tmp_path), "--device", "cpu"]) == 0
    out = capsys.readouterr().out
    n = len(plan("figS1", "smoke"))
    assert f"{n} runs, {n - 1} to train, 1 reused" in out
