"""Run every planned run of an experiment, resuming where an earlier sweep stopped.

A finished run (ok or diverged) is never repeated; a run that raised is recorded as 'failed'
and retried next time; a failure never stops the sweep.
"""
from __future__ import annotations

import math
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import pandas as pd
from tqdm.auto import tqdm

from frecore import plots, results
from frecore.config import ConfigError, override
from frecore.data import Dataset, MissingDataError, data_available, load_dataset
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
                   out_dir: str = "results", progress: bool = True, variant: str | None = None) -> SweepOutput:
    """Run what is missing, then write <name>.csv, <name>_summary.csv and <name>.png in out_dir.

    `variant` ('code', 'text') runs that reading of the rows that have one (others their default);
    the summary shows every reading recorded for the profile, the default first."""
    experiment = get_experiment(name)
    probe = PROBES[experiment.probe] if experiment.probe else None
    out = Path(out_dir)
    runs_csv, summary_csv, plot_png = out / f"{name}.csv", out / f"{name}_summary.csv", out / f"{name}.png"
    planned = plan(name, profile, rows=rows, seeds=seeds, device=device, data_root=data_root, variant=variant)
    done = results.finished_ids(runs_csv)
    todo = [p for p in planned if p.run_id not in done]
    if progress:
        tqdm.write(f"{name} [{profile}]: {len(planned)} runs, {len(planned) - len(todo)} already done")
    commit = results.git_commit()
    cache: dict[tuple, Dataset] = {}
    missing: dict[str, MissingDataError] = {}  # dataset -> why it could not be loaded
    for i, p in enumerate(todo, 1):
        if p.config.data.dataset in missing:
            continue
        if progress:
            tqdm.write(f"[{i}/{len(todo)}] {p.row.label} seed {p.seed}")
        try:
            dev = resolve_device(p.config.device)
            key = (p.config.data, str(dev), p.config.net.dtype)
            if key not in cache:
                try:
                    cache[key] = load_dataset(p.config.data, device=dev, dtype=DTYPES[p.config.net.dtype])
                except MissingDataError as exc:  # its rows are reported "not run: no data", the rest go on
                    missing[p.config.data.dataset] = exc
                    tqdm.write(f"skipping every {p.config.data.dataset} run: {exc}")
                    continue
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
    if missing and len(missing) == len({p.config.data.dataset for p in planned}):
        raise next(iter(missing.values()))  # no data for any row: the user's set-up, not a result
    return summarise_experiment(name, profile, rows=rows, seeds=seeds, device=device, data_root=data_root,
                                out_dir=out_dir)


def authors_best_within(experiment: str, label: str, epochs: int) -> float:
    """The authors' printed runs of a row: best test accuracy within their first `epochs` epochs,
    mean over runs (NaN when they printed no curve or we ran nothing): ours at equal training."""
    from frecore.authors import curves_for

    curves = [c.test_acc[:epochs] for c in curves_for(experiment, label) if epochs and len(c.test_acc) >= epochs]
    return sum(max(c) for c in curves) / len(curves) if curves else math.nan


def summarise_experiment(name: str, profile: str, rows: Sequence[str] | None = None,
                         seeds: Sequence[int] | None = None, device: str = "auto", data_root: str | None = None,
                         out_dir: str = "results") -> SweepOutput:
    """(Re)write <name>_summary.csv and <name>.png from the runs recorded in <name>.csv.

    Only the runs of the current plan count: a row recorded under an older config is not one.
    Each row's default reading gets a line; another reading gets one where it has runs.
    """
    experiment = get_experiment(name)
    out = Path(out_dir)
    runs_csv, summary_csv, plot_png = out / f"{name}.csv", out / f"{name}_summary.csv", out / f"{name}.png"
    planned = plan(name, profile, rows=rows, seeds=seeds, device=device, data_root=data_root)
    recorded = results.load_runs(runs_csv)
    runs = recorded[recorded["run_id"].isin({p.run_id for p in planned})]
    all_rows = experiment.rows()
    chosen = all_rows if rows is None else [r for r in all_rows if r.label in rows]
    variant_lines = []
    for variant in sorted({v for r in chosen for v in r.variants}):
        ids: dict[str, set[str]] = {}
        for p in plan(name, profile, rows=rows, seeds=seeds, device=device, data_root=data_root, variant=variant):
            if p.reading == variant != p.row.reading:
                ids.setdefault(p.row.label, set()).add(p.run_id)
        variant_lines += [(r, variant, ids[r.label]) for r in chosen
                          if r.label in ids and recorded["run_id"].isin(ids[r.label]).any()]
    summary = results.summarise(runs, chosen, profile, variants=variant_lines, recorded=recorded)
    lines = chosen + [r for r, _, _ in variant_lines]
    summary["note"] = ["" if n else "not run: no data" if not data_available(override(r.config, data={
        "root": data_root or r.config.data.root}).data) else "not run" for r, n in zip(lines, summary["n"])]
    # the authors' printed runs are a check of a row's default only where that default is their setting
    coded = {r.label for r in lines if r.reading != "text"}
    # (a partial epoch has no counterpart in their per-epoch curves)
    summary["authors_same_epochs"] = [authors_best_within(name, r, e) if d and r in coded and f >= 1.0 else math.nan
                                      for r, e, d, f in zip(summary["row"], summary["epochs"], summary["default_reading"],
                                                            summary["epoch_fraction"])]
    results.write_csv(summary, summary_csv)
    plots.PLOTS[experiment.plot](runs_csv, summary_csv, plot_png, profile=profile, experiment=name)
    return SweepOutput(runs, summary, runs_csv, summary_csv, plot_png)
