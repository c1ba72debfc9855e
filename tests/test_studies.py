"""experiments/studies.py: studies are registered experiments (the store, resume, summaries) with no
notebook."""
import json

from frecore.experiments import get_experiment, list_experiments, plan
from frecore.sweeps.driver import run_experiment


def test_studies_are_registered_but_not_paper_experiments():
    assert {"settle", "conv_cycle"} <= set(list_experiments())
    assert not {"settle", "conv_cycle"} & set(list_experiments(studies=False))
    assert get_experiment("conv_cycle").probe == "conv_cycle"


def test_settle_rows_differ_from_their_table_row_in_the_tolerance_only():
    runs = {p.row.label: p.config for p in plan("settle", "quick")}
    fixed, settled = runs["2HL-512 fixed T=10, K=10"], runs["2HL-512 settled, free 1e-3"]
    assert (fixed.rule.settle_tol, settled.rule.settle_tol, settled.rule.settle_tol_nudged) == (
        None, 1e-3, 0.01)
    assert settled.rule.settle_relative and settled.net == fixed.net and settled.optim == fixed.optim
    assert (fixed.optim.epochs, runs["10-Residual settled, free 1e-4"].optim.epoch_fraction) == (10, 0.5)
    cycle = {p.row.label: p.config for p in plan("conv_cycle", "quick")}
    assert cycle["damped step g=0.5"].net.damping == 0.5
    assert cycle["indices frozen at the free phase"].net.pool_indices == "free"


def test_a_settle_study_records_its_steps_in_the_store_and_its_summary(tmp_path, mnist_root):
    rows = ["2HL-512 fixed T=10, K=10", "2HL-512 settled, free 1e-3"]
    out = run_experiment("settle", "smoke", rows=rows, data_root=mnist_root, out_dir=str(tmp_path),
                         progress=False)
    history = {r: json.loads(h) for r, h in zip(out.runs["row"], out.runs["history"])}
    assert "steps" not in history[rows[0]][0] or not history[rows[0]][0]["steps"]
    steps = history[rows[1]][0]["steps"]
    assert 1 <= steps["free"] < 10 and 1 <= steps["nudged"] <= 10
    summary = out.summary.set_index("row")
    assert summary.loc[rows[1], "free_steps_mean"] == steps["free"]
    assert (tmp_path / "settle.csv").exists() and (tmp_path / "settle_smoke_summary.csv").exists()
