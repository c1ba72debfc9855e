import json
import math

import pandas as pd
import pytest

from frecore.experiments import get_rows, plan
from frecore.reporting.store import append_run, finished_ids, load_runs, run_record
from frecore.reporting.markdown import markdown_table, update_readme_block
from frecore.reporting.summary import summarise
from frecore.training.train import EpochRecord, RunResult


def _result(planned, accs, status="ok"):
    r = RunResult(planned.config, status=status, wall_s=12.0, device="cpu")
    r.history = [EpochRecord(i + 1, 0.1, 90.0 + i, 0.2, a, 5.0) for i, a in enumerate(accs)]
    return r


def test_append_resume_and_retry_without_duplicates(tmp_path):
    path = tmp_path / "t.csv"
    runs = plan("table1", "smoke")
    append_run(path, run_record(runs[0], _result(runs[0], [50.0, 60.0]), commit="abc"))
    append_run(path, run_record(runs[1], None, status="failed", message="boom", commit="abc"))
    assert finished_ids(path) == {runs[0].run_id}  # the failure will be retried
    append_run(path, run_record(runs[1], _result(runs[1], [70.0]), commit="abc"))
    df = load_runs(path)
    assert len(df) == 2 and set(df["status"]) == {"ok"}
    assert finished_ids(path) == {runs[0].run_id, runs[1].run_id}
    row = df.set_index("run_id").loc[runs[0].run_id]
    assert row["best_test_acc"] == 60.0 and row["final_test_acc"] == 60.0 and row["epochs_run"] == 2
    assert json.loads(row["history"])[0]["test_acc"] == 50.0
    assert json.loads(row["config"])["net"]["hidden"] == [512, 512]
    assert not list(tmp_path.glob(".*tmp"))  # atomic writes leave no temporaries


def test_keep_finished_never_replaces_a_finished_run(tmp_path):
    path = tmp_path / "t.csv"
    runs = plan("table1", "smoke")
    assert append_run(path, run_record(runs[0], _result(runs[0], [60.0]), commit="abc"))
    assert append_run(path, run_record(runs[1], None, status="failed", commit="abc"))
    assert not append_run(path, run_record(runs[0], _result(runs[0], [10.0]), commit="x"), keep_finished=True)
    assert append_run(path, run_record(runs[1], _result(runs[1], [70.0]), commit="x"), keep_finished=True)
    df = load_runs(path).set_index("run_id")
    assert df.loc[runs[0].run_id, "best_test_acc"] == 60.0 and df.loc[runs[1].run_id, "status"] == "ok"


def test_summary_statistics_and_paper_columns(tmp_path):
    path = tmp_path / "t.csv"
    rows = [r for r in get_rows("table1") if r.label in ("2HL Ours (tanh, Adam)", "2HL BP (tanh, Adam)")]
    runs = plan("table1", "paper", rows=[rows[0].label], seeds=[0, 1, 2])
    for p, best in zip(runs, [98.0, 98.2, 98.4]):
        append_run(path, run_record(p, _result(p, [best - 1, best, best - 0.5]), commit="abc"))
    diverged = plan("table1", "paper", rows=[rows[0].label], seeds=[3])[0]
    append_run(path, run_record(diverged, _result(diverged, [10.0], status="diverged"), commit="abc"))
    s = summarise(load_runs(path), rows, "paper").set_index("row")
    r = s.loc[rows[0].label]
    assert r["n"] == 3 and r["n_diverged"] == 1
    assert r["best_test_mean"] == pytest.approx(98.2)
    assert r["best_test_std"] == pytest.approx(pd.Series([98.0, 98.2, 98.4]).std(ddof=1))
    assert r["final_test_mean"] == pytest.approx(97.7)
    assert r["paper_test"] == 98.39 and r["diff_vs_paper"] == pytest.approx(98.2 - 98.39)
    assert r["extrapolated_paper_wall_s"] == pytest.approx(5.0 * 50)
    assert s.loc[rows[1].label, "n"] == 0 and math.isnan(s.loc[rows[1].label, "best_test_mean"])
    table = markdown_table(s.reset_index())
    assert all(s in table for s in ("98.20 ± 0.20", "98.39 ± 0.04", "not run", "(+1 diverged)"))


def test_update_readme_block(tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text("intro\n<!-- table1:start -->\nold\n<!-- table1:end -->\nrest\n")
    update_readme_block(readme, "table1", "new table")
    assert readme.read_text() == "intro\n<!-- table1:start -->\nnew table\n<!-- table1:end -->\nrest\n"
    with pytest.raises(ValueError, match="no <!-- fig9:start -->"):
        update_readme_block(readme, "fig9", "x")


def test_a_mean_without_std_prints_no_plus_minus():
    from frecore.reporting.markdown import format_mean_std
    assert format_mean_std(97.5, float("nan")) == "97.50"
    assert format_mean_std(97.5, 0.123) == "97.50 ± 0.12"
    assert format_mean_std(float("nan"), 0.1, missing="-") == "-"


def _append_many(path: str, worker: int, n: int) -> None:
    from frecore.experiments import plan
    from frecore.reporting.store import append_run, run_record

    p = plan("table1", "smoke")[0]
    for i in range(n):
        record = run_record(p, None, status="failed", message="concurrency test", commit="abc")
        record["run_id"] = f"{worker:06x}{i:06x}"
        append_run(path, record)


def test_concurrent_writers_lose_no_row_and_the_mode_is_kept(tmp_path):
    import multiprocessing as mp
    import os
    import stat

    path = tmp_path / "runs.csv"
    ctx = mp.get_context("fork")
    procs = [ctx.Process(target=_append_many, args=(str(path), w, 15)) for w in range(3)]
    for p in procs:
        p.start()
    for p in procs:
        p.join()
        assert p.exitcode == 0
    runs = load_runs(path)
    assert sorted(runs["run_id"]) == sorted(f"{w:06x}{i:06x}" for w in range(3) for i in range(15))
    os.chmod(path, 0o644)
    _append_many(str(path), 9, 1)
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    assert not [f for f in os.listdir(tmp_path) if f.endswith(".tmp")]


def test_a_summarys_labels_read_back_as_written(tmp_path):
    """A figure whose approaches are all numbers ('1', '0.25') keeps them as written: pages printed
    '1.0' for beta_i = 1 when pandas parsed the column as floats."""
    import pandas as pd

    from frecore.reporting.summary import SUMMARY_COLUMNS, load_summary

    line = {c: 1 for c in SUMMARY_COLUMNS} | {"row": "2HL beta=1", "arch": "2HL", "approach": "1"}
    pd.DataFrame([line, {**line, "row": "2HL beta=0.25", "approach": "0.25"}]).to_csv(
        tmp_path / "s.csv", index=False)
    assert list(load_summary(tmp_path / "s.csv")["approach"]) == ["1", "0.25"]
