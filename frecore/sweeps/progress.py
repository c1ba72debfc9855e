"""What a sweep will cost before it starts, and how far it is while it runs, in plain lines.

Estimates come from recorded runs: a planned run that is already recorded (in the sweep's folder or
in this checkout's committed results/) costs its recorded wall time (its share of it, when it
trained side by side with others); another seed of the same row
and reading, in the same profile, costs that row's recorded time per epoch times the run's epochs.
Runs recorded on this device class are preferred; a run nothing matches has no estimate (said so).

`ProgressLines` prints one line when each run starts and ends (N of M, row, seed, epochs, best so
far, ETA), to stdout and flushed: in a notebook executed by `papermill --log-output` (make) they
reach the terminal as they happen; `frecore strip-notebook` removes them (PROGRESS_PREFIX) from the
executed copy, so they never change a recorded notebook.
"""
from __future__ import annotations

import math
import os
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Callable, Sequence, TextIO

import pandas as pd

from frecore.experiments import PlannedRun
from frecore.reporting import store
from frecore.reporting.notebook import PROGRESS_PREFIX
from frecore.training.train import resolve_device

# the committed reference, when there is one
CHECKOUT_RESULTS = Path(__file__).resolve().parents[2] / "results"


def hms(seconds: float) -> str:
    """0:01:05 for 65 s; '?' when unknown."""
    if seconds is None or not math.isfinite(seconds):
        return "?"
    return str(timedelta(seconds=round(seconds)))


def recorded_runs(name: str, out_dir: str | os.PathLike,
                  reference: str | os.PathLike | None = CHECKOUT_RESULTS) -> pd.DataFrame:
    """The finished runs of `name` recorded in out_dir, then in the reference folder (the same run
    recorded in both counts once, out_dir's first)."""
    frames = []
    for folder in [out_dir] + ([reference] if reference is not None else []):
        path = Path(folder) / f"{name}.csv"
        if path.exists():
            runs = store.load_runs(path)
            frames.append(runs[runs["status"].isin(store.FINAL_STATUSES)])
    if not frames:
        return pd.DataFrame(columns=[*store.RUN_COLUMNS, "share_s"])
    runs = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
    runs = runs.drop_duplicates("run_id", keep="first").copy()
    # runs trained side by side each record the group's wall time: its members are the rows with the
    # very same wall time, epoch time, commit and device; each costs its share
    group = ["wall_s", "epoch_s", "git_commit", "device"]
    size = runs.groupby(group, dropna=False)["run_id"].transform("size") if len(runs) else runs["wall_s"]
    runs["share_s"] = runs["wall_s"] / size
    return runs


def estimate(p: PlannedRun, recorded: pd.DataFrame, device: str) -> float:
    """Seconds this run should take (NaN when nothing recorded is comparable); see the module doc."""
    same = recorded[recorded["run_id"] == p.run_id]
    if len(same) and math.isfinite(same["share_s"].iloc[0]):
        return float(same["share_s"].iloc[0])
    row = recorded[(recorded["row"] == p.row.label) & (recorded["reading"] == p.reading)
                   & (recorded["profile"] == p.profile) & (recorded["epochs_run"] > 0)]
    row = row[row["share_s"].map(math.isfinite)]
    if row.empty:
        return math.nan
    here = row[row["device"] == device]
    row = here if len(here) else row
    return float((row["share_s"] / row["epochs_run"]).mean() * p.config.optim.epochs)


@dataclass
class SweepPlan:
    """The bill of a sweep before it starts."""
    name: str
    profile: str
    out_dir: Path
    planned: list[PlannedRun]
    reused: list[PlannedRun]  # already finished in out_dir
    todo: list[PlannedRun]
    seconds: list[float]  # estimate per todo run (NaN: unknown)
    device: str

    @property
    def total_s(self) -> float:
        return sum(s for s in self.seconds if math.isfinite(s))

    @property
    def unknown(self) -> int:
        return sum(not math.isfinite(s) for s in self.seconds)

    def lines(self) -> list[str]:
        head = (f"plan: {self.name} [{self.profile}] into {self.out_dir}: {len(self.planned)} runs, "
                f"{len(self.todo)} to train, {len(self.reused)} reused (already recorded there)")
        if not self.todo:
            return [head, "estimated time: nothing to train (the summary, plot and page are rebuilt)"]
        est = f"estimated time: {hms(self.total_s)} on {self.device}, from recorded epoch times"
        if self.unknown:
            est += f"; {self.unknown} run(s) with no comparable record, not counted"
        out = [head, est]
        by_row: dict[tuple[str, str], list[tuple[PlannedRun, float]]] = {}
        for p, s in zip(self.todo, self.seconds):
            by_row.setdefault((p.row.label, p.reading), []).append((p, s))
        width = max(len(label) for label, _ in by_row)
        for (label, _), items in by_row.items():
            seeds = " ".join(str(p.seed) for p, _ in items)
            each = [s for _, s in items]
            out.append(f"  {label:<{width}}  seeds {seeds:<10} {items[0][0].config.optim.epochs:>4} epochs  "
                       f"{hms(sum(each))}")
        return out


def sweep_plan(name: str, profile: str, out_dir: str | os.PathLike, planned: Sequence[PlannedRun],
               device: str = "auto", reference: str | os.PathLike | None = CHECKOUT_RESULTS) -> SweepPlan:
    """What a sweep of `planned` into out_dir trains and reuses, and its estimated time. A run shared
    with another experiment (Row.owner: Figures S1-S7 draw Table S1's) is looked up in its owner's CSV."""
    owners = list(dict.fromkeys(p.experiment for p in planned)) or [name]
    # every profile's runs share <experiment>.csv (driver.output_paths)
    done = set().union(*(store.finished_ids(Path(out_dir) / f"{e}.csv") for e in owners))
    todo = [p for p in planned if p.run_id not in done]
    dev = store.device_name(str(resolve_device(device)))
    recorded = pd.concat([recorded_runs(e, out_dir, reference) for e in owners], ignore_index=True)
    reused = [p for p in planned if p.run_id in done]
    return SweepPlan(name, profile, Path(out_dir), list(planned), reused, todo,
                     [estimate(p, recorded, dev) for p in todo], dev)


@dataclass
class ProgressLines:
    """One plain line per run start and end, with the sweep's ETA (see the module doc)."""
    name: str
    todo: list[PlannedRun]
    seconds: dict[str, float]  # run_id -> estimate (NaN: unknown)
    stream: TextIO = field(default_factory=lambda: sys.stdout)
    clock: Callable[[], float] = time.monotonic
    started: int = 0
    finished: int = 0
    total: int = field(init=False)
    remaining: set[str] = field(init=False)  # run ids not finished nor dropped
    finished_est_s: float = 0.0  # the estimates of the finished runs
    finished_unknown: int = 0  # finished runs that had no estimate
    best: tuple[float, str] | None = None
    t0: float = field(init=False)

    def __post_init__(self) -> None:
        self.total = len(self.todo)
        self.remaining = {p.run_id for p in self.todo}
        self.t0 = self.clock()

    def _say(self, text: str) -> None:
        print(f"{PROGRESS_PREFIX}{self.name} {text}", file=self.stream, flush=True)

    def eta_s(self) -> float:
        """Seconds left: the estimates of the runs not finished, scaled by the time the sweep has taken
        so far over the estimates of the runs it finished (the clock, not the rows' times: runs
        trained side by side share it); the mean run so far where estimates are missing."""
        elapsed = self.clock() - self.t0
        known = [self.seconds[r] for r in self.remaining if math.isfinite(self.seconds.get(r, math.nan))]
        unknown = len(self.remaining) - len(known)
        if not self.finished:
            return sum(known) if not unknown else math.nan
        if self.finished_unknown or unknown:  # no common scale: the mean measured run for every run left
            return elapsed / self.finished * len(self.remaining)
        return elapsed / self.finished_est_s * sum(known) if self.finished_est_s > 0 else math.nan

    def _eta_text(self) -> str:
        eta = self.eta_s()
        if not math.isfinite(eta):
            return "ETA ? (no recorded time to go by yet)"
        end = datetime.now(timezone.utc) + timedelta(seconds=eta)
        return f"ETA {hms(eta)} (about {end:%H:%M} UTC)"

    def start(self, p: PlannedRun) -> None:
        self.started += 1
        est = self.seconds.get(p.run_id, math.nan)
        about = f" (about {hms(est)})" if math.isfinite(est) else ""
        self._say(f"run {self.started}/{self.total} start: {p.row.label} seed {p.seed}, "
                  f"{p.config.optim.epochs} epochs{about} | elapsed {hms(self.clock() - self.t0)} | "
                  f"{self._eta_text()}")

    def drop(self, p: PlannedRun) -> None:
        """A run this sweep will not train after all (another process took it, its data is missing)."""
        self.total -= 1
        self.remaining.discard(p.run_id)

    def end(self, p: PlannedRun, row: dict) -> None:
        self.finished += 1
        self.remaining.discard(p.run_id)
        wall = float(row.get("wall_s", math.nan))
        est = self.seconds.get(p.run_id, math.nan)
        if math.isfinite(est):
            self.finished_est_s += est
        else:
            self.finished_unknown += 1
        acc = float(row.get("best_test_acc", math.nan))
        if math.isfinite(acc) and (self.best is None or acc > self.best[0]):
            self.best = (acc, f"{p.row.label} seed {p.seed}")
        best = f"best so far {self.best[0]:.2f}% ({self.best[1]})" if self.best else "best so far -"
        self._say(f"run {self.finished}/{self.total} done: {p.row.label} seed {p.seed}: {row.get('status')}, "
                  f"{row.get('epochs_run')} epochs, best test {acc:.2f}% in {hms(wall)} | {best} | "
                  + (self._eta_text() if self.remaining else f"sweep done in {hms(self.clock() - self.t0)}"))


def progress_lines(name: str, profile: str, out_dir: str | os.PathLike, todo: Sequence[PlannedRun],
                   device: str = "auto") -> ProgressLines:
    """The lines of a sweep about to train `todo` into out_dir, with its estimates."""
    plan = sweep_plan(name, profile, out_dir, todo, device)
    lines = ProgressLines(name, list(todo), {p.run_id: s for p, s in zip(plan.todo, plan.seconds)})
    lines._say(f"[{profile}]: {len(todo)} runs to train, estimated {hms(plan.total_s)}"
               + (f" ({plan.unknown} with no recorded time)" if plan.unknown else ""))
    return lines
