"""Run every planned run of an experiment, resuming where an earlier sweep stopped.

A finished run (ok or diverged) is never repeated; a run that raised is recorded as 'failed'
and retried next time; a failure never stops the sweep. The driver is the only writer of the
results CSV: an executor (frecore.sweeps.executors: in this process, or Ray tasks) trains the runs and
hands each run's row back as it ends. A run is claimed (store.RunClaims) before it is trained,
so sweeps in several processes on one folder split the work instead of repeating it.
"""
from __future__ import annotations

import itertools
import json
import math
import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import pandas as pd
from tqdm.auto import tqdm

from frecore.config import DTYPES, ESTIMATORS, override
from frecore.experiments import PROFILES, PlannedRun, get_experiment, plan, selection
from frecore.reporting import plots, store
from frecore.reporting.authors import curves_for
from frecore.reporting.summary import summarise
from frecore.reporting.paths import check_writable_dir, check_writable_file
from frecore.sweeps.executors import Executor, get_executor
from frecore.sweeps.progress import progress_lines
from frecore.sweeps.trainer import RunTrainer
from frecore.training.data import MissingDataError, data_available
from frecore.training.train import Deadline, RunPaused, as_deadline


@dataclass
class SweepOutput:
    runs: pd.DataFrame  # the planned runs, as recorded (a stale row of an older config is not one)
    summary: pd.DataFrame
    runs_csv: Path
    summary_csv: Path
    plot_png: Path
    paused: list[str] = field(default_factory=list)  # run ids stopped by the deadline (`until`), to continue


def output_paths(out_dir: str | os.PathLike, name: str, profile: str) -> tuple[Path, Path, Path]:
    """(runs CSV, summary CSV, plot) of an experiment in a profile.

    Every profile's runs share <name>.csv (each row names its profile). Summaries and plots are
    per profile, so a smoke run never touches the committed quick files: the quick profile keeps
    the bare names <name>_summary.csv and <name>.png, any other gets <name>_<profile>_summary.csv
    and <name>_<profile>.png."""
    out = Path(out_dir)
    stem = name if profile == "quick" else f"{name}_{profile}"
    return out / f"{name}.csv", out / f"{stem}_summary.csv", out / f"{stem}.png"


def runs_csvs(name: str, planned: Sequence[PlannedRun], out_dir: str | os.PathLike,
              profile: str) -> dict[str, Path]:
    """experiment -> runs CSV of every experiment whose runs `planned` holds (its own, and the owners
    of rows it shares: Row.owner), in plan order; the experiment's own when nothing is planned."""
    owners = list(dict.fromkeys(p.experiment for p in planned)) or [name]
    return {e: output_paths(out_dir, e, profile)[0] for e in owners}


def load_recorded(csvs: Sequence[Path]) -> pd.DataFrame:
    """The runs recorded in these CSVs, as one frame."""
    frames = [store.load_runs(c) for c in csvs]
    return frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True)


def check_writable(out_dir: str | os.PathLike, *files: Path) -> None:
    """Fail before any training when results could not be written: out_dir must be (or become) a
    folder we can create files in, and each output file must be writable."""
    check_writable_dir(out_dir, what="--out-dir")
    for f in files:
        if f.exists():
            check_writable_file(f)


def run_experiment(name: str, profile: str = "smoke", rows: Sequence[str] | None = None,
                   seeds: Sequence[int] | None = None, device: str = "auto", data_root: str | None = None,
                   out_dir: str = "results", progress: bool | str = True, variant: str | None = None,
                   executor: str | Executor | None = None, save_models: str | None = None,
                   only: set[str] | None = None, checkpoint_dir: str | os.PathLike | None = None,
                   until: float | Deadline | None = None, estimator: str | None = None,
                   dtype: str | None = None) -> SweepOutput:
    """Run what is missing, then write the runs CSV, the profile's summary and plot in out_dir.

    `executor` trains the runs: "auto" (the default: on CUDA "side-by-side", else "inprocess"),
    "inprocess" (one run after another), "side-by-side" (the runs that can share a pass as one,
    frecore.training.members), "ray" (frecore.sweeps.ray_executor), or an Executor object; whichever it is,
    this loop records each row as its run ends, so resuming
    works across executors and an interrupted sweep keeps every row it finished. `progress`
    shows one bar over the sweep's runs, with an ETA (and per-epoch bars for in-process runs);
    "lines" prints instead one plain line as each run starts and ends, with an ETA from recorded
    times (frecore.sweeps.progress: what make streams to the terminal).

    `variant` ('code', 'text') runs that reading of the rows that have one (others their default);
    `estimator` ('centered', 'random-sign') runs the EP rows with that estimator, `dtype` ('float64')
    every row in that precision (registry.plan);
    the summary shows every reading recorded for the profile, the default first. `save_models`: a
    folder where each run trained now keeps its final net, <run_id>.pt (frecore.load_model).

    `only` (run ids) trains just those of the plan (a campaign's unit; the summary still covers the
    whole profile); `checkpoint_dir` holds the per-epoch checkpoints (default out_dir/.checkpoints);
    `until` (time.time() seconds, or a Deadline) pauses a run or group at the first epoch that would
    end after it (a stopped Deadline: at the next epoch boundary), and no later run starts: nothing is
    recorded for a paused run, its checkpoint continues it, and SweepOutput.paused names it. Runs in
    flight beside a paused one (Ray tasks) go on to their own pause or end, so none loses the epoch it
    is in; a Ray task holds a copy of the Deadline, so a stop cancels those instead (they keep every
    finished epoch)."""
    get_experiment(name)  # an unknown name fails here, before anything else
    until = as_deadline(until)
    rows, seeds = selection(rows, seeds)  # a notebook's `-p rows "2HL BP (tanh, Adam)"` is one label
    # an unknown name or a missing Ray fails before any training
    executor = get_executor(executor, device=device)
    _, summary_csv, plot_png = output_paths(out_dir, name, profile)
    planned = plan(name, profile, rows=rows, seeds=seeds, device=device, data_root=data_root, variant=variant,
                   estimator=estimator, dtype=dtype)
    csvs = runs_csvs(name, planned, out_dir, profile)  # a shared row's run is recorded in its owner's CSV
    check_writable(out_dir, *csvs.values(), summary_csv, plot_png)
    store.check_folder_layout(Path(out_dir), *csvs.values(), summary_csv)  # claims, checkpoints, lock files
    store.clean_stale_temp_files(Path(out_dir))
    done = set().union(*(store.finished_ids(c) for c in csvs.values()))
    todo = [p for p in planned if p.run_id not in done and (only is None or p.run_id in only)]
    lines = progress_lines(name, profile, out_dir, todo, device) if progress == "lines" else None
    progress = progress is True
    if progress:
        tqdm.write(f"{name} [{profile}]: {len(planned)} runs, {len(planned) - len(todo)} already done")
    checkpoints = Path(checkpoint_dir) if checkpoint_dir is not None else Path(out_dir) / ".checkpoints"
    probes = {e: get_experiment(e).probe for e in csvs}  # a shared run is probed as its owner probes it
    trainer = RunTrainer(probe=next((v for v in probes.values() if v), None), probes=probes,
                         commit=store.git_commit(), progress=progress,
                         # absolute: a Ray worker has its own cwd
                         checkpoint_dir=checkpoints.resolve(), until=until,
                         save_dir=Path(save_models).resolve() if save_models else None)
    missing: dict[str, Exception] = {}  # dataset -> why it could not be loaded
    claims = store.RunClaims(Path(out_dir) / ".claims")

    bar = tqdm(total=len(todo), desc=name, unit="run", disable=not progress, dynamic_ncols=True)

    def skip(p: PlannedRun) -> bool:
        skipped = _skip(p)
        if skipped:  # not ours to train: the bar counts only the runs this sweep trains
            bar.total -= 1
            bar.refresh()
            if lines is not None:
                lines.drop(p)
        elif lines is not None:
            lines.start(p)
        return skipped

    started: list[str] = []  # run ids this sweep has begun to train
    # why no further run starts (the deadline passed, or a run paused at it); the runs still in flight
    # (a Ray sweep's) go on to their own pause or end, so none loses the epoch it is in
    halted: list[RunPaused] = []

    def _skip(p: PlannedRun) -> bool:
        if p.config.data.dataset in missing:
            return True
        if halted:
            return True
        if until is not None and started and until.passed():
            # the first run always starts (as a campaign unit's does); later ones not after the deadline,
            # whatever their length: a run's first epoch has no measured time to be checked against
            halted.append(RunPaused(0, None, started=False))
            return True
        if not claims.take(p.run_id):  # another process is training it
            if progress:
                tqdm.write(f"skipping {p.row.label} seed {p.seed}: another sweep is training it")
            return True
        if p.run_id in store.finished_ids(csvs[p.experiment]):  # finished by another process since we planned
            claims.release(p.run_id)
            return True
        if progress:
            tqdm.write(f"{p.row.label} seed {p.seed}")
        started.append(p.run_id)
        return False

    outcomes = executor.map(todo, trainer, skip)
    paused: list[str] = []
    try:
        for p, outcome in outcomes:
            # its rows are reported "not run: no data", the rest go on
            if isinstance(outcome, MissingDataError):
                missing[p.config.data.dataset] = outcome
                if len({q.config.data.dataset for q in planned}) > 1:  # else the error below says it, once
                    tqdm.write(f"skipping every {p.config.data.dataset} run: {outcome}")
                bar.total -= 1
                if lines is not None:
                    lines.drop(p)
            elif isinstance(outcome, RunPaused):  # a Ray task at the deadline: those in flight drain
                if outcome.started:
                    paused.append(p.run_id)
                halted.append(outcome)
                bar.total -= 1
                bar.refresh()
                if lines is not None:
                    lines.drop(p)
            elif isinstance(outcome, Exception):
                raise outcome
            else:
                store.append_run(csvs[p.experiment], outcome)  # recorded as the run ends: Ctrl-C keeps it
                bar.set_postfix_str(f"{p.row.label} seed {p.seed}: {outcome['status']}", refresh=False)
                bar.update(1)
                if lines is not None:
                    lines.end(p, outcome)
            claims.release(p.run_id)
    except RunPaused as pause:  # an in-process run or group paused at the deadline: its checkpoint goes on
        halted.append(pause)
    finally:
        # still claimed: the in-process run or group that paused, or Ray tasks a stop cancelled (the
        # executor returned early; their checkpoints hold every finished epoch)
        held = [p.run_id for p in todo if p.run_id in claims.held and p.run_id not in paused]
        paused += held
        close = getattr(outcomes, "close", None)
        if close is not None:  # stopped early: the executor cancels what it still has in flight
            close()
        claims.release_all()
        bar.close()
    said = [h for h in halted if h.started]
    for pause in said or (halted[:1] if not held else []):
        tqdm.write(f"{name} [{profile}]: {pause}; the same command continues it")
    if held and not said:  # no run paused itself: the executor cancelled these (a stop)
        tqdm.write(f"{name} [{profile}]: stopped; {len(held)} run(s) in flight cancelled, their "
                   f"checkpoints keep every finished epoch; the same command continues them")
    if missing and len(missing) == len({p.config.data.dataset for p in planned}):
        raise next(iter(missing.values()))  # no data for any row: the user's set-up, not a result
    # the summary is the profile's, every row: a run of some rows or seeds adds to it, never shrinks it
    # (seeds outside the profile's are counted too)
    every_seed = None if seeds is None else sorted(set(PROFILES[profile].seeds) | set(seeds))
    out = summarise_experiment(name, profile, seeds=every_seed, device=device, data_root=data_root,
                               out_dir=out_dir)
    # what is returned is this call's: the runs it planned (its rows, seeds, reading and estimator) and,
    # for a selection of rows or seeds, their summary lines (a notebook's table and checks)
    recorded = load_recorded(list(csvs.values()))
    out.runs = recorded[recorded["run_id"].isin({p.run_id for p in planned})].reset_index(drop=True)
    if rows is not None or seeds is not None:
        labels = {p.row.label for p in planned}
        out.summary = out.summary[out.summary["row"].isin(labels)].reset_index(drop=True)
    out.paused = paused
    return out


def resummarise(name: str, profile: str, out_dir: str = "results") -> SweepOutput | None:
    """Rebuild a profile's summary and plot from the runs recorded for it, with the seeds and
    data roots actually present (not the profile's defaults); None when it has no recorded runs."""
    labels = {r.label for r in get_experiment(name).rows()}
    owners = {r.owner or name for r in get_experiment(name).rows()}
    runs = load_recorded([output_paths(out_dir, e, profile)[0] for e in sorted(owners)])
    runs = runs[(runs["profile"] == profile) & runs["row"].isin(labels) & runs["experiment"].isin(owners)]
    if runs.empty:
        return None
    seeds = sorted({int(s) for s in runs["seed"]})
    # the data root and device are part of a run's identity: take those most runs were recorded with
    configs = [json.loads(c) for c in runs["config"]]
    (root, device), _ = Counter((c["data"].get("root"), c.get("device", "auto"))
                                for c in configs).most_common(1)[0]
    return summarise_experiment(name, profile, seeds=seeds, device=device, data_root=root, out_dir=out_dir)

def authors_best_within(experiment: str, label: str, epochs: int) -> float:
    """The authors' printed runs of a row: best test accuracy within their first `epochs` epochs,
    mean over runs (NaN when they printed no curve or we ran nothing): ours at equal training."""

    curves = [c.test_acc[:epochs]
              for c in curves_for(experiment, label) if epochs and len(c.test_acc) >= epochs]
    return sum(max(c) for c in curves) / len(curves) if curves else math.nan


def summarise_experiment(name: str, profile: str, rows: Sequence[str] | None = None,
                         seeds: Sequence[int] | None = None, device: str = "auto",
                         data_root: str | None = None, out_dir: str = "results") -> SweepOutput:
    """(Re)write the profile's summary and plot from the runs recorded in <name>.csv.

    Only the runs of the current plan count: a row recorded under an older config is not one.
    Each row's default reading gets a line; another reading gets one where it has runs.
    """
    experiment = get_experiment(name)
    rows, seeds = selection(rows, seeds)
    _, summary_csv, plot_png = output_paths(out_dir, name, profile)
    planned = plan(name, profile, rows=rows, seeds=seeds, device=device, data_root=data_root)
    csvs = list(runs_csvs(name, planned, out_dir, profile).values())
    runs_csv = csvs[0]
    recorded = load_recorded(csvs)
    runs = recorded[recorded["run_id"].isin({p.run_id for p in planned})]
    all_rows = experiment.rows()
    chosen = all_rows if rows is None else [r for r in all_rows if r.label in rows]
    # every other reading (text / code, EP estimators and other precisions on either) that has runs
    variant_lines = []
    ids: dict[tuple[str, str], set[str]] = {}
    variants = [None, *sorted({v for r in chosen for v in r.variants})]
    for variant, estimator, dtype in itertools.product(variants, (None, *ESTIMATORS[1:]), (None, *DTYPES)):
        if variant is None and estimator is None and dtype is None:
            continue
        for p in plan(name, profile, rows=rows, seeds=seeds, device=device, data_root=data_root,
                      variant=variant, estimator=estimator, dtype=dtype):
            if p.reading != p.row.reading:
                ids.setdefault((p.row.label, p.reading), set()).add(p.run_id)
    variant_lines += [(r, reading, ids[(r.label, reading)]) for r in chosen for label, reading in ids
                      if label == r.label and recorded["run_id"].isin(ids[(r.label, reading)]).any()]
    summary = summarise(runs, chosen, profile, variants=variant_lines, recorded=recorded)
    lines = chosen + [r for r, _, _ in variant_lines]
    summary["note"] = ["" if n else "not run: no data" if not data_available(override(r.config, data={
        "root": data_root or r.config.data.root}).data) else "not run" for r, n in zip(lines, summary["n"])]
    # the authors' printed runs are a check of a row's default only where that default is their setting
    coded = {r.label for r in lines if r.reading != "text"}
    # (a partial epoch has no counterpart in their per-epoch curves)
    columns = zip(summary["row"], summary["epochs"], summary["default_reading"], summary["epoch_fraction"])
    summary["authors_same_epochs"] = [authors_best_within(name, r, e) if d and r in coded and f >= 1.0
                                      else math.nan for r, e, d, f in columns]
    store.write_csv(summary, summary_csv)
    plots.PLOTS[experiment.plot](csvs if len(csvs) > 1 else runs_csv, summary_csv, plot_png, profile=profile,
                                 experiment=name)
    return SweepOutput(runs, summary, runs_csv, summary_csv, plot_png)
