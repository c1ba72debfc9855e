"""Train a queue of registered runs under a wall-clock budget, banked across sessions.

A campaign (frecore.experiments.campaign.QUEUES) is a list of entries, each some rows of an
experiment in a profile. Every run is the one `run <experiment> --profile P` plans: the same run
id and the same results row, written through run_experiment as each run ends. A unit (one run, or a
row's seeds side by side) starts only when its estimated time fits the budget left; a `long` entry, a
paused unit and one longer than the whole budget start when one epoch fits and pause at an epoch
boundary when the budget ends. Checkpoints live in <out_dir>/campaign/checkpoints, a folder meant to
be committed: a fresh clone continues a paused run exactly. Estimates come from this campaign's own
measured epoch times (<out_dir>/campaign/timings.csv, per device and thread count), else from the runs
of the row's current setting recorded on that device (older settings where none was; scaled for
threads); a paused unit's from its checkpoint.
"""
from __future__ import annotations

import csv
import json
import math
import os
import re
import statistics
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import torch

from frecore.config import ConfigError, RunConfig, run_config_from_dict
from frecore.experiments import PlannedRun, plan
from frecore.experiments.registry import identity_fields
from frecore.experiments.campaign import QUEUES, CampaignEntry
from frecore.reporting import store
from frecore.reporting.markdown import format_mean_std
from frecore.sweeps.driver import output_paths, resummarise, run_experiment
from frecore.sweeps.executors import InProcess, groups
from frecore.sweeps.trainer import checkpoint_file
from frecore.training.train import Deadline, checkpoint_device, resolve_device

TIMINGS_FIELDS = ("experiment", "row", "profile", "threads", "members", "epochs", "seconds", "host")
ONE_THREAD_FACTOR = 1.8  # a run recorded on two threads costs about this much more on one
MARGIN_S = 60.0  # kept back from the budget for summaries and the final write
OWN_EPOCHS = "its checkpoint's last epochs"  # a paused unit's estimate source: its own measured epochs


@dataclass
class Unit:
    entry: CampaignEntry
    runs: list[PlannedRun]  # not yet finished, trained as one pass when more than one
    epochs: int  # each run's planned epochs
    done_epochs: int  # epochs already in its checkpoint (a paused unit)
    epoch_s: float | None  # estimated seconds per epoch of the whole unit; None: nothing measured yet
    source: str  # where epoch_s comes from

    @property
    def estimate_s(self) -> float | None:
        return None if self.epoch_s is None else self.epoch_s * (self.epochs - self.done_epochs)

    @property
    def label(self) -> str:
        seeds = ",".join(str(p.seed) for p in self.runs)
        row = f" / {self.runs[0].row.label}" if len(self.entry.rows) > 1 else ""
        return f"{self.entry.key}{row} (seed{'s' if len(self.runs) > 1 else ''} {seeds})"


def campaign_dir(out_dir: str | os.PathLike) -> Path:
    return Path(out_dir) / "campaign"


def checkpoint_dir(out_dir: str | os.PathLike) -> Path:
    return campaign_dir(out_dir) / "checkpoints"


def parse_budget(text: str | float) -> float:
    """'150m', '2.5h', '90s' or a number of minutes -> seconds; refused unless finite and > 0."""
    if isinstance(text, (int, float)):
        seconds = float(text) * 60
    else:
        units = {"s": 1, "m": 60, "h": 3600}
        value = text.strip().lower()
        scale = units.get(value[-1:], None)
        try:
            seconds = float(value[:-1] if scale else value) * (scale or 60)
        except ValueError:
            raise ConfigError(f"budget must be a duration like 150m, 2.5h or 90s, got {text!r}") from None
    if not (math.isfinite(seconds) and seconds > 0):
        raise ConfigError(f"budget must be a positive, finite duration, got {text!r}")
    return seconds


def unit_checkpoint(out_dir: str | os.PathLike, runs: Sequence[PlannedRun]) -> Path:
    """Where RunTrainer keeps this unit's checkpoint."""
    return checkpoint_file(checkpoint_dir(out_dir), runs)


def checkpoint_progress(path: Path, device: str | None = None) -> tuple[int, float | None]:
    """(the last epoch a checkpoint holds, the unit's seconds per epoch): the training time its last
    three epochs on this kind of device measured (the current pace) plus its evaluation, saving and
    set-up per epoch so far (its wall time less all training). (0, None) when there is none or it is
    unreadable (training then starts afresh); the time is None where its history does not say, or
    where its epochs ran on another kind of device than `device` (a GPU's epoch says nothing of a CPU's)."""
    if not path.exists():
        return 0, None
    try:
        saved = torch.load(path, map_location="cpu", weights_only=True)
        epoch = int(saved["epoch"])
    except Exception:
        return 0, None
    if device is not None and checkpoint_device(saved) not in (None, device):
        return epoch, None
    try:  # each member's history carries the pass's training time over its members
        members = len(saved["members"])
        history = max((m["history"] for m in saved["members"]), key=len)  # a diverged member stopped early
        trained = [float(h["seconds"]) * members for h in history]
        pace_from = int(saved.get("pace_from", 1))
        here = [t for t, h in zip(trained, history) if int(h["epoch"]) >= pace_from]
        if not here:
            return epoch, None
        rest = max(float(saved["wall_s"]) - sum(trained), 0.0) / len(trained)
        return epoch, sum(here[-3:]) / len(here[-3:]) + rest
    except (KeyError, IndexError, TypeError, ValueError):
        return epoch, None


def read_timings(out_dir: str | os.PathLike) -> list[dict]:
    """The campaign's measured epoch times in `out_dir` ([] when none); ConfigError where the file is
    not a timings file (another header, or rows of other lengths)."""
    path = campaign_dir(out_dir) / "timings.csv"
    if not path.exists():
        return []
    with open(path, newline="") as f:
        reader = csv.DictReader(f)
        rows = list(reader)
    if reader.fieldnames is not None and set(reader.fieldnames) != set(TIMINGS_FIELDS) \
            or any(None in r or None in r.values() for r in rows):
        raise ConfigError(f"{path} is not a campaign timings file (its columns are not "
                          f"{', '.join(TIMINGS_FIELDS)})")
    return rows


def append_timings(out_dir: str | os.PathLike, rows: Sequence[dict], only_new: bool = False) -> int:
    """Append timing rows to `out_dir`'s file under its lock (with `only_new`, those it lacks); how many."""
    path = campaign_dir(out_dir) / "timings.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    with store.locked(path):
        if only_new:
            known = {tuple(r[k] for k in TIMINGS_FIELDS) for r in read_timings(out_dir)}
            rows = [r for r in rows if tuple(str(r[k]) for k in TIMINGS_FIELDS) not in known]
        if rows:
            new = not path.exists()
            with open(path, "a", newline="") as f:
                w = csv.DictWriter(f, fieldnames=TIMINGS_FIELDS)
                if new:
                    w.writeheader()
                w.writerows(rows)
    return len(rows)


def timing_row(p: PlannedRun) -> str:
    """What the campaign's timings call a run's row: its label, with the reading where that is not the
    row's default (a float64 or centered-estimator run costs other seconds than the default's)."""
    return p.row.label if p.reading == p.row.reading else f"{p.row.label} [{p.reading}]"


def _record_timing(out_dir: str | os.PathLike, unit: Unit, threads: int, epochs: int, seconds: float,
                   device: str) -> None:
    append_timings(out_dir, [{"experiment": unit.entry.experiment, "row": timing_row(unit.runs[0]),
                              "profile": unit.entry.profile, "threads": threads, "members": len(unit.runs),
                              "epochs": epochs, "seconds": f"{seconds:.2f}",
                              "host": store.device_name(device)}])


def _cost_identity(config: dict | RunConfig) -> str:
    """A run's setting without what a profile or seed changes (epochs, the trained fraction of an
    epoch, the seed; and, as in a run id, the data root and device): runs with equal ones cost the
    same per epoch. Defaults are filled in, so a row recorded before a setting existed still matches."""
    cfg = run_config_from_dict(config) if isinstance(config, dict) else config
    fields = identity_fields(cfg)
    fields.pop("seed", None)
    for key in ("epochs", "epoch_fraction"):
        fields.get("optim", {}).pop(key, None)
    return json.dumps({k: v for k, v in fields.items() if v != {}}, sort_keys=True, default=str)


def _recorded_threads(device: str) -> int | None:
    """The CPU thread count a results row's device names ('cpu:x86_64 x2' -> 2); None for another device."""
    match = re.fullmatch(r"cpu(:.*)?\sx(\d+)", str(device).strip())
    return int(match.group(2)) if match else None


def _device_kind(device: object) -> str:
    """'cpu' or 'cuda' of a recorded device name ('cuda:NVIDIA H200', 'cpu:x86_64 x1')."""
    return str(device).strip().split(":")[0]


def estimate_epoch_s(experiment: str, row: str, members: int, threads: int, timings: list[dict],
                     recorded: dict[str, list[dict]], config: RunConfig | None = None, device: str = "cpu",
                     timed_as: str | None = None) -> tuple[float | None, str]:
    """Seconds per epoch of a unit of `members` runs of `row` on `device` ('cpu' or 'cuda'): this
    campaign's own measurement there at this thread count (scaled by members; its timings name the
    row `timed_as`, default `row`: timing_row), else the row's runs
    recorded there (their wall time per whole epoch, scaled by members and, for a CPU run recorded on
    more threads than `threads`, by ONE_THREAD_FACTOR). Where `config` is given, only runs of the same
    setting count (an older reading of the row can cost many times more), unless none was recorded:
    then the older ones do, and the source says so."""
    own = [t for t in timings if t["experiment"] == experiment and t["row"] == (timed_as or row)
           and _device_kind(t.get("host") or "cpu") == device
           and int(t["threads"]) == threads and int(t["epochs"]) > 0]
    if own:
        per_member = [float(t["seconds"]) / int(t["epochs"]) / int(t["members"]) for t in own]
        return sorted(per_member)[len(per_member) // 2] * members, f"campaign, {len(own)} measured"
    measured: list[tuple[float, bool, bool]] = []  # (s per whole epoch at `threads`, same setting, scaled)
    identity = _cost_identity(config) if config is not None else None
    for r in recorded.get(experiment, []):
        if r["row"] != row or r["profile"] == "smoke" or r["status"] != "ok":
            continue
        try:
            # a GPU's epoch says nothing of a CPU's; nor does a run continued across devices
            if _device_kind(r["device"]) != device or "(after " in str(r["device"]):
                continue
            ran_on = _recorded_threads(r["device"]) if device == "cpu" else None
            cfg = json.loads(r["config"])
            fraction = float(cfg.get("optim", {}).get("epoch_fraction", 1.0))
            epochs, train_s = float(r["epochs_run"]), float(r["epoch_s"])  # epoch_s: training only, per epoch
            # evaluation and set-up: not scaled by fraction
            rest = (float(r["wall_s"]) - train_s * epochs) / epochs
            factor = ONE_THREAD_FACTOR if ran_on is not None and ran_on > threads else 1.0
            measured.append(((train_s / fraction + max(rest, 0.0)) * factor,
                             identity is not None and _cost_identity(cfg) == identity, factor != 1.0))
        except (ValueError, TypeError, KeyError, ZeroDivisionError, AttributeError):
            continue
    same = [m for m in measured if m[1]]
    used = same or measured
    if not used:
        return None, "nothing measured"
    median = sorted(t for t, _, _ in used)[len(used) // 2]
    source = (f"{len(used)} recorded run(s)" + ("" if same or identity is None else " of older settings")
              + (" (x1.8 where on more threads)" if any(scaled for _, _, scaled in used) else ""))
    return median * members, source


def _recorded_rows(experiment: str, out_dir: str | os.PathLike) -> list[dict]:
    runs_csv = output_paths(out_dir, experiment, "paper")[0]
    if not runs_csv.exists():
        return []
    return store.load_runs(runs_csv).to_dict("records")


def recorded_rows(queue: Sequence[CampaignEntry], out_dir: str | os.PathLike) -> dict[str, list[dict]]:
    """Each queued experiment's recorded runs (every profile: they share one CSV)."""
    return {e.experiment: _recorded_rows(e.experiment, out_dir) for e in queue}


def entry_runs(entry: CampaignEntry, data_root: str | None = None) -> list[PlannedRun]:
    """The runs a queue entry stands for, as `run` plans them."""
    return plan(entry.experiment, entry.profile, rows=list(entry.rows), seeds=entry.seeds,
                data_root=data_root, variant=entry.variant, estimator=entry.estimator, dtype=entry.dtype)


def plan_units(queue: Sequence[CampaignEntry], out_dir: str | os.PathLike, threads: int,
               data_root: str | None = None, recorded: dict[str, list[dict]] | None = None,
               device: str = "cpu", planned: Sequence[list[PlannedRun]] | None = None
               ) -> tuple[list[Unit], int, int]:
    """(units left to train, runs planned, runs finished) for a queue, in queue order; estimates for
    `device` ('cpu' or 'cuda'). `planned`: each entry's runs (entry_runs), where the caller has them."""
    recorded = recorded_rows(queue, out_dir) if recorded is None else recorded
    timings = read_timings(out_dir)
    units, planned_n, done_n = [], 0, 0
    for i, entry in enumerate(queue):
        runs = planned[i] if planned is not None else entry_runs(entry, data_root)
        done = {r["run_id"] for r in recorded[entry.experiment] if r["status"] in ("ok", "diverged")}
        planned_n += len(runs)
        done_n += sum(p.run_id in done for p in runs)
        todo = [p for p in runs if p.run_id not in done]
        for members in (groups(todo) if entry.side_by_side else [[p] for p in todo]):
            epochs = members[0].config.optim.epochs
            epoch_s, source = estimate_epoch_s(entry.experiment, members[0].row.label, len(members), threads,
                                               timings, recorded, members[0].config, device,
                                               timed_as=timing_row(members[0]))
            done_epochs, own_epoch_s = checkpoint_progress(unit_checkpoint(out_dir, members), device)
            if own_epoch_s is not None:  # a paused unit's own recent epochs say it best
                epoch_s, source = own_epoch_s, OWN_EPOCHS
            units.append(Unit(entry, members, epochs, done_epochs, epoch_s, source))
    return units, planned_n, done_n


def _fmt(seconds: float | None) -> str:
    if seconds is None:
        return "?"
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def describe(units: list[Unit], planned_n: int, done_n: int, threads: int) -> str:
    """The queue as a person reads it: done, left, each unit's estimate and the total ETA."""
    known = [u.estimate_s for u in units if u.estimate_s is not None]
    lines = [f"campaign: {done_n} of {planned_n} runs done, {sum(len(u.runs) for u in units)} left in "
             f"{len(units)} unit(s); ETA {_fmt(sum(known))} on {threads} thread(s)"
             + (f" plus {len(units) - len(known)} unit(s) not yet measured"
                if len(known) < len(units) else "")]
    for i, u in enumerate(units, 1):
        progress = f", {u.done_epochs}/{u.epochs} epochs in checkpoint" if u.done_epochs else ""
        lines.append(f"  {i:3d}. {u.label}: {len(u.runs)} run(s) x {u.epochs} epochs{progress}, "
                     f"est {_fmt(u.estimate_s)} ({u.source})"
                     + (" [long: paused by the budget]" if u.entry.long else ""))
    return "\n".join(lines)


def starts(unit: Unit, budget_s: float, budget_left: float) -> bool:
    """Whether `unit` starts with `budget_left` seconds of a `budget_s` budget left: when its estimate
    fits, or, for a pausable one, when one epoch does. Pausable: a long entry, a unit paused before, and
    one that no whole budget could hold (it would never start otherwise); the budget's end pauses it."""
    if unit.estimate_s is None or unit.estimate_s <= budget_left:
        return True
    pausable = unit.entry.long or unit.done_epochs > 0 or unit.estimate_s > budget_s
    return pausable and (unit.epoch_s is None or unit.epoch_s <= budget_left)


def run_campaign(queue: str | Sequence[CampaignEntry] = "paper", budget_s: float = 150 * 60,
                 out_dir: str = "results", threads: int = 1, data_root: str | None = None,
                 device: str = "cpu", progress: bool = True, dry_run: bool = False,
                 echo: Callable[[str], None] = print, clock: Callable[[], float] = time.time,
                 stop: Deadline | None = None) -> list[Unit]:
    """Train what fits of the queue in `budget_s` seconds; return the units still left.

    Each unit starts only when its estimate fits the budget left (a pausable one when one epoch does:
    `starts`); each runs under a deadline, so a misestimated unit pauses at an epoch boundary instead
    of being cut. `stop`: a Deadline the caller may stop() meanwhile (a signal handler): the unit in
    flight then pauses after its epoch in progress and no other starts; the campaign sets its time.
    `dry_run` prints the plan and trains nothing."""
    if isinstance(queue, str) and queue not in QUEUES:
        raise ConfigError(f"unknown queue {queue!r}; choose one of: {', '.join(QUEUES)}")
    entries = QUEUES[queue] if isinstance(queue, str) else tuple(queue)
    if threads < 1:
        raise ConfigError(f"threads must be >= 1, got {threads}")
    torch.set_num_threads(threads)
    start = clock()
    deadline = start + budget_s - MARGIN_S
    recorded = recorded_rows(entries, out_dir)
    kind = resolve_device(device).type
    units, planned_n, done_n = plan_units(entries, out_dir, threads, data_root, recorded, kind)
    echo(describe(units, planned_n, done_n, threads))
    echo(f"budget {_fmt(budget_s)} (until {time.strftime('%H:%M', time.localtime(start + budget_s))})")
    if dry_run:
        return units
    left = list(units)
    until = stop if stop is not None else Deadline()
    for i, unit in enumerate(units, 1):
        if until.stopped:
            break
        timings = read_timings(out_dir)  # what this campaign measured so far replaces older estimates
        timed_as = timing_row(unit.runs[0])
        if unit.source != OWN_EPOCHS and any(t["row"] == timed_as and t["experiment"] == unit.entry.experiment
                                             for t in timings):
            unit.epoch_s, unit.source = estimate_epoch_s(unit.entry.experiment, unit.runs[0].row.label,
                                                         len(unit.runs), threads, timings, recorded,
                                                         unit.runs[0].config, kind, timed_as=timed_as)
        budget_left = deadline - clock()
        if not starts(unit, budget_s - MARGIN_S, budget_left):
            echo(f"[{i}/{len(units)}] skip {unit.label}: needs {_fmt(unit.estimate_s)}, {_fmt(budget_left)} "
                 f"left")
            continue
        echo(f"[{i}/{len(units)}] start {unit.label}: {len(unit.runs)} run(s), est {_fmt(unit.estimate_s)}, "
             f"{_fmt(budget_left)} left" + (" (the budget's end pauses it)" if unit.estimate_s is not None
                                            and unit.estimate_s > budget_left else ""))
        t0 = clock()
        until.at = time.time() + (deadline - clock())  # the deadline on the wall clock fit reads
        out = run_experiment(unit.entry.experiment, profile=unit.entry.profile, device=device,
                             data_root=data_root, out_dir=out_dir, progress=progress,
                             variant=unit.entry.variant, seeds=unit.entry.seeds,
                             estimator=unit.entry.estimator, dtype=unit.entry.dtype,
                             executor=InProcess(side_by_side=len(unit.runs) > 1),
                             only={p.run_id for p in unit.runs}, checkpoint_dir=checkpoint_dir(out_dir),
                             until=until)
        seconds = clock() - t0
        ids = {p.run_id for p in unit.runs}
        rows = out.runs[out.runs["run_id"].isin(ids)]
        # every seed recorded, not just this unit's
        resummarise(unit.entry.experiment, unit.entry.profile, out_dir=out_dir)
        unrecorded = ids - set(rows["run_id"])  # (a failed run is recorded, and retried next time)
        cut = bool(out.paused) or (bool(unrecorded) and until.passed())  # by the deadline or a stop
        if unrecorded and not cut:  # another process holds them (a second campaign), or no data
            echo(f"[{i}/{len(units)}] skipped {len(unrecorded)} run(s) of {unit.label}: another process "
                 f"is training them, or their data is missing")
            reached = unit.done_epochs
        elif cut:
            reached, own_epoch_s = checkpoint_progress(unit_checkpoint(out_dir, unit.runs), kind)
            echo(f"[{i}/{len(units)}] paused {unit.label} after epoch {reached}/{unit.epochs} "
                 f"({_fmt(seconds)}{', stopped on request' if until.stopped else ''}); "
                 f"the next campaign continues it")
        else:
            reached = int(rows["epochs_run"].max()) if len(rows) else unit.done_epochs
            left.remove(unit)
            best = ", ".join(f"seed {s}: {b:.2f}% ({st})" for s, b, st in
                             zip(rows["seed"], rows["best_test_acc"], rows["status"]))
            echo(f"[{i}/{len(units)}] done {unit.label} in {_fmt(seconds)}: best {best}")
        if reached > unit.done_epochs:
            _record_timing(out_dir, unit, threads, reached - unit.done_epochs, seconds,
                           str(resolve_device(device)))
        if unit in left:  # paused (or another's): what is left of it, at the pace it just measured
            if not cut:
                reached, own_epoch_s = checkpoint_progress(unit_checkpoint(out_dir, unit.runs), kind)
            unit.done_epochs = reached
            if own_epoch_s is not None:
                unit.epoch_s, unit.source = own_epoch_s, OWN_EPOCHS
        if cut or until.passed() or clock() >= deadline:
            break
    done_now = planned_n - sum(len(u.runs) for u in left)
    known = [u.estimate_s for u in left if u.estimate_s is not None]
    echo(f"campaign: {done_now} of {planned_n} runs done; {len(left)} unit(s) left, ETA "
         f"{_fmt(sum(known)) if known or not left else '?'}"
         + (f" plus {len(left) - len(known)} unit(s) not yet measured"
            if known and len(known) < len(left) else ""))
    return left


def _mean_std(values: Sequence[float]) -> str:
    return format_mean_std(statistics.fmean(values) if values else math.nan,
                           statistics.stdev(values) if len(values) > 1 else math.nan, missing="-")


def standing(queue: Sequence[CampaignEntry], out_dir: str | os.PathLike, data_root: str | None = None) -> str:
    """Where the queue stands, as a markdown table: per entry with anything trained, the finished runs
    (best over epochs and final, mean ± std over seeds) beside the paper's value, and the epochs a
    paused run holds in its checkpoint; then the entries not started. Read from the results CSVs and
    the checkpoints alone, so `campaign --standing PAGE` rewrites the page after any session."""
    recorded = recorded_rows(queue, out_dir)
    planned = [entry_runs(entry, data_root) for entry in queue]
    units = plan_units(queue, out_dir, 1, data_root, recorded, planned=planned)[0]
    paused = {p.run_id: (u.done_epochs, u.epochs) for u in units if u.done_epochs for p in u.runs}
    lines = ["| Entry | Runs done | Best (%) | Final (%) | Paper (%) | Best − paper | Paused at |",
             "|---|---|---|---|---|---|---|"]
    untouched = []
    for entry, runs in zip(queue, planned):
        by_id = {r["run_id"]: r for r in recorded[entry.experiment]}
        done = [by_id[p.run_id] for p in runs
                if p.run_id in by_id and by_id[p.run_id]["status"] in ("ok", "diverged")]
        ok = [r for r in done if r["status"] == "ok"]
        progress = [f"seed {p.seed}: epoch {paused[p.run_id][0]}/{paused[p.run_id][1]}"
                    for p in runs if p.run_id in paused]
        if not done and not progress:
            untouched.append(entry.key)
            continue
        one_row = len(entry.rows) == 1  # several rows' accuracies make no mean: their page has each
        paper = runs[0].row.paper if one_row else None
        best = [float(r["best_test_acc"]) for r in ok] if one_row else []
        final = [float(r["final_test_acc"]) for r in ok] if one_row else []
        diverged = len(done) - len(ok)
        paper_text = "-" if paper is None else format_mean_std(paper.test_acc, paper.test_std, missing="-")
        delta = f"{statistics.fmean(best) - paper.test_acc:+.2f}" if paper and best else "-"
        epochs = runs[0].config.optim.epochs
        runs_text = (f"{len(done)} of {len(runs)}, {epochs} epoch{'s' if epochs != 1 else ''}"
                     + (f" ({diverged} diverged)" if diverged else "")
                     + ("" if one_row else ", several rows"))
        lines.append(f"| {entry.key} | {runs_text} | {_mean_std(best)} | {_mean_std(final)} | {paper_text} | "
                     f"{delta} | {'; '.join(progress) or '-'} |")
    if untouched:
        lines += ["", f"Not started ({len(untouched)} entries): " + "; ".join(untouched) + "."]
    return "\n".join(lines)
