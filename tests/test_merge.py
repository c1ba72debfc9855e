import csv

import pytest
import torch

from frecore.cli import main
from frecore.config import ConfigError
from frecore.experiments import plan
from frecore.experiments.campaign import QUEUES
from frecore.reporting.store import RunClaims, append_run, load_runs, run_record
from frecore.sweeps.campaign import TIMINGS_FIELDS, checkpoint_dir, plan_units, unit_checkpoint
from frecore.sweeps.merge import merge_results
from frecore.training.train import EpochRecord, RunResult


def _result(planned, acc: float) -> RunResult:
    r = RunResult(planned.config, wall_s=3.0, device="cuda")
    r.history = [EpochRecord(1, 0.1, 90.0, 0.2, acc, 1.0)]
    return r


def _timings(path, rows) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=TIMINGS_FIELDS)
        w.writeheader()
        w.writerows(rows)


def _timing(seconds: str) -> dict:
    return {"experiment": "table1", "row": "2HL BP (tanh, Adam)", "profile": "smoke", "threads": "4",
            "members": "2", "epochs": "1", "seconds": seconds, "host": "cuda:NVIDIA H200"}


def test_a_merge_adds_what_is_finished_there_and_not_here_once(tmp_path):
    ours, theirs = tmp_path / "ours", tmp_path / "theirs"
    runs = plan("table1", "smoke")[:4]
    append_run(ours / "table1.csv", run_record(runs[0], _result(runs[0], 60.0), commit="abc"))
    append_run(ours / "table1.csv", run_record(runs[1], None, status="failed", commit="abc"))
    for i, acc in ((0, 50.0), (1, 70.0), (3, 80.0)):
        append_run(theirs / "table1.csv", run_record(runs[i], _result(runs[i], acc), commit="def"))
    append_run(theirs / "table1.csv", run_record(runs[2], None, status="failed", commit="def"))
    _timings(ours / "campaign" / "timings.csv", [_timing("10.00")])
    _timings(theirs / "campaign" / "timings.csv", [_timing("10.00"), _timing("12.00")])

    report = merge_results(theirs, ours, queue="smoke")
    assert (report.runs, report.kept, report.unfinished, report.timings) == ({"table1": 2}, 1, 1, 1)
    merged = load_runs(ours / "table1.csv").set_index("run_id")
    assert len(merged) == 3 and set(merged["status"]) == {"ok"}
    assert merged.loc[runs[0].run_id, "best_test_acc"] == 60.0  # ours finished: kept
    assert merged.loc[runs[1].run_id, "best_test_acc"] == 70.0  # ours had failed: theirs replaces it
    assert runs[2].run_id not in merged.index  # failed there: left to train here
    assert (ours / "table1_smoke_summary.csv").exists()  # the summary it touched is rebuilt
    with open(ours / "campaign" / "timings.csv", newline="") as f:
        assert [r["seconds"] for r in csv.DictReader(f)] == ["10.00", "12.00"]

    again = merge_results(theirs, ours, queue="smoke")
    assert (again.runs, again.kept, again.timings) == ({}, 3, 0)
    assert len(load_runs(ours / "table1.csv")) == 3


def test_a_merge_takes_only_checkpoints_further_on_of_units_left_here(tmp_path):
    ours, theirs = tmp_path / "ours", tmp_path / "theirs"
    units = plan_units(QUEUES["smoke"], ours, 1)[0]
    ahead, behind = (unit_checkpoint(ours, u.runs).name for u in units[:2])
    for folder, name, epoch in ((theirs, ahead, 3), (ours, ahead, 2), (theirs, behind, 1), (ours, behind, 2),
                                (theirs, "0123456789ab.pt", 5)):
        checkpoint_dir(folder).mkdir(parents=True, exist_ok=True)
        torch.save({"epoch": epoch}, checkpoint_dir(folder) / name)
    report = merge_results(theirs, ours, queue="smoke")
    assert report.checkpoints == [f"{ahead} (epoch 3)"]
    assert sorted(report.stale) == sorted([behind, "0123456789ab.pt"])
    assert torch.load(checkpoint_dir(ours) / ahead)["epoch"] == 3
    assert torch.load(checkpoint_dir(ours) / behind)["epoch"] == 2
    assert not (checkpoint_dir(ours) / "0123456789ab.pt").exists()
    # a unit a process here is training is left to it: its next epoch would overwrite the copy
    torch.save({"epoch": 9}, checkpoint_dir(theirs) / ahead)
    campaign_here = RunClaims(ours / ".claims")
    assert campaign_here.take(units[0].runs[0].run_id)
    busy = merge_results(theirs, ours, queue="smoke")
    assert busy.busy == [ahead] and torch.load(checkpoint_dir(ours) / ahead)["epoch"] == 3
    campaign_here.release_all()
    assert merge_results(theirs, ours, queue="smoke").checkpoints == [f"{ahead} (epoch 9)"]


def test_a_merge_that_finishes_units_names_their_checkpoints_here(tmp_path):
    ours, theirs = tmp_path / "ours", tmp_path / "theirs"
    unit = plan_units(QUEUES["smoke"], ours, 1)[0][0]
    checkpoint_dir(ours).mkdir(parents=True)
    torch.save({"epoch": 1}, unit_checkpoint(ours, unit.runs))
    for p in unit.runs:
        append_run(theirs / f"{p.experiment}.csv", run_record(p, _result(p, 90.0), commit="def"))
    report = merge_results(theirs, ours, queue="smoke")
    assert report.orphans == [unit_checkpoint(ours, unit.runs).name]
    assert "delete them" in report.describe()


def test_bad_sources_end_in_one_message_and_write_nothing(tmp_path, capsys):
    ours = tmp_path / "ours"
    assert main(["merge", str(tmp_path / "missing"), "--out-dir", str(ours)]) == 2
    assert "is not a folder" in capsys.readouterr().err
    theirs = tmp_path / "theirs"
    theirs.mkdir()
    (theirs / "table1.csv").write_text("not,a,runs,file\n1,2,3,4\n")
    assert main(["merge", str(theirs), "--out-dir", str(ours)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "table1.csv" in err and err.count("\n") == 1
    assert not (ours / "table1.csv").exists()
    with pytest.raises(ConfigError, match="the folder merged into"):
        merge_results(ours, ours)
    _timings(theirs / "campaign" / "timings.csv", [])
    (theirs / "table1.csv").unlink()
    (theirs / "campaign" / "timings.csv").write_text("a,b\n1,2\n")
    with pytest.raises(ConfigError, match="not a campaign timings file"):
        merge_results(theirs, ours)
