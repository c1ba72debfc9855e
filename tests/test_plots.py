"""Every registered figure draws from results files alone."""
import pytest

from frecore.reporting import plots
from frecore.experiments import EXPERIMENTS, get_rows, plan
from frecore.reporting.store import append_run, load_runs, run_record, write_csv
from frecore.reporting.summary import summarise
from frecore.training.train import EpochRecord, RunResult


@pytest.mark.parametrize("name", sorted(EXPERIMENTS))
def test_each_experiment_plot_draws_from_its_csvs(tmp_path, name):
    runs_csv, summary_csv, png = tmp_path / "r.csv", tmp_path / "s.csv", tmp_path / "f.png"
    for k, p in enumerate(plan(name, "smoke")[:12]):
        r = RunResult(p.config, wall_s=1.0, device="cpu",
                      probe_before={"spectral_radius": 0.5, "ftmle": -1.0, "convergence_time": 7.0})
        r.history = [EpochRecord(e, 0.1, 80.0, 0.2, 70.0 + k + e, 1.0,
                                 {"spectral_radius": 0.6, "ftmle": -0.9, "convergence_time": 8.0})
                                 for e in (1, 2)]
        append_run(runs_csv, run_record(p, r, commit="abc"))
    summary = summarise(load_runs(runs_csv), get_rows(name), "smoke")
    write_csv(summary, summary_csv)
    out = plots.PLOTS[EXPERIMENTS[name].plot](runs_csv, summary_csv, png, profile="smoke", experiment=name)
    assert out == png and png.stat().st_size > 5000
