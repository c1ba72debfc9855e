"""Run every planned run of an experiment, resuming where an earlier sweep stopped.

A finished run (ok or diverged) is never repeated; a run that raised is recorded as 'failed'
and retried next time; a failure never stops the sweep.
"""
from __future__ import annotations

import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import pandas as pd
from tqdm.auto import tqdm

from frecore import plots, results
from frecore.config import ConfigError
from frecore.data import Dataset, load_dataset
from frecore.experiments import get_experiment, plan
from frecore.nets import DTYPES
from frecore.probes import PROBES
from frecore.train import fit, resolve_device


@dataclass
class SweepOutput:
    runs: pd.DataFrame  # the planned runs, as recorded (a stale row of an older config is not one)
    summary: pd.DataFrame
    runs_csv: Path
    summary_csv: Path
    plot_png: Path


def run_experiment(name: str, profile: str = "smoke", rows: Sequence[str] | None = None,
                   seeds: Sequence[int] | None = None, device: str = "auto", data_root: str | None = None,
                   out_dir: str = "results", progress: bool = True) -> SweepOutput:
    """Run what is missing, then write <name>.csv, <name>_summary.csv and <name>.png in out_dir."""
    experiment = get_experiment(name)
    probe = PROBES[experiment.probe] if experiment.probe else None
    out = Path(out_dir)
    runs_csv, summary_csv, plot_png = out / f"{name}.csv", out / f"{name}_summary.csv", out / f"{name}.png"
    planned = plan(name, profile, rows=rows, seeds=seeds, device=device, data_root=data_root)
    done = results.finished_ids(runs_csv)
    todo = [p for p in planned if p.run_id not in done]
    if progress:
        tqdm.write(f"{name} [{profile}]: {len(planned)} runs, {len(planned) - len(todo)} already done")
    commit = results.git_commit()
    cache: dict[tuple, Dataset] = {}
    for i, p in enumerate(todo, 1):
        if progress:
            tqdm.write(f"[{i}/{len(todo)}] {p.row.label} seed {p.seed}")
        try:
            dev = resolve_device(p.config.device)
            key = (p.config.data, str(dev), p.config.net.dtype)
            if key not in cache:
                cache[key] = load_dataset(p.config.data, device=dev, dtype=DTYPES[p.config.net.dtype])
            result = fit(p.config, cache[key], progress=progress, probe=probe)
            record = results.run_record(p, result, commit=commit)
        except (ConfigError, FileNotFoundError):
            raise  # the user's input is wrong: every run would fail the same way
        except Exception as exc:  # one broken run is a result, not the end of the sweep
            record = results.run_record(p, None, status="failed",
                                        message=f"{type(exc).__name__}: {exc}", commit=commit)
            if progress:
                tqdm.write(traceback.format_exc())
        results.append_run(runs_csv, record)
    runs = results.load_runs(runs_csv)
    runs = runs[runs["run_id"].isin({p.run_id for p in planned})]  # exactly this plan: no stale rows
    all_rows = experiment.rows()
    summary = results.summarise(runs, all_rows if rows is None else [r for r in all_rows if r.label in rows], profile)
    results.write_csv(summary, summary_csv)
    plots.PLOTS[experiment.plot](runs_csv, summary_csv, plot_png, profile=profile, experiment=name)
    return SweepOutput(runs, summary, runs_csv, summary_csv, plot_png)
