"""Bring another results folder into this one: a lent GPU's, another machine's, a cluster node's.

Runs are keyed by run id, which names neither the device nor the data root, so a run trained
elsewhere is the run `run` or `campaign` would train here. A merge adds each finished run (ok or
diverged) this folder has not finished, the campaign's epoch timings it lacks, and each campaign
checkpoint of a unit still left here that holds more epochs than this folder's copy (so the
campaign continues the unit here); then it rebuilds the summaries it touched. Nothing of this
folder's finished runs is replaced, and merging twice adds nothing the second time.
"""
from __future__ import annotations

import csv
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import torch

from frecore.config import ConfigError
from frecore.experiments import list_experiments
from frecore.reporting import store
from frecore.experiments.campaign import QUEUES
from frecore.sweeps.campaign import TIMINGS_FIELDS, campaign_dir, checkpoint_dir, plan_units, unit_checkpoint
from frecore.sweeps.driver import output_paths, resummarise


@dataclass
class MergeReport:
    runs: dict[str, int] = field(default_factory=dict)  # experiment -> runs added
    kept: int = 0  # finished in both: this folder's row kept
    unfinished: int = 0  # failed runs of the other folder, not brought over
    timings: int = 0
    checkpoints: list[str] = field(default_factory=list)
    stale: list[str] = field(default_factory=list)  # of units finished here, or no further on than ours

    def describe(self) -> str:
        added = ", ".join(f"{n} to {e}" for e, n in sorted(self.runs.items())) or "none"
        return (f"runs added: {added}; {self.kept} already finished here (kept), {self.unfinished} "
                f"unfinished there (left); {self.timings} campaign timing(s); {len(self.checkpoints)} "
                f"checkpoint(s)"
                + (f" further on than ours: {', '.join(self.checkpoints)}" if self.checkpoints else "")
                + (f"; {len(self.stale)} left (of units finished here, or no further on)"
                   if self.stale else ""))


def _epoch(path: Path) -> int:
    """The last epoch a checkpoint holds; -1 when it is unreadable."""
    try:
        return int(torch.load(path, map_location="cpu", weights_only=True)["epoch"])
    except Exception:
        return -1


def merge_results(source: str | os.PathLike, out_dir: str | os.PathLike = "results",
                  queue: str = "paper") -> MergeReport:
    """Add `source`'s finished runs, timings and further-on checkpoints (of `queue`'s units left in
    `out_dir`) to `out_dir` (see the module)."""
    src, out = Path(source), Path(out_dir)
    if not src.is_dir():
        raise ConfigError(f"{src} is not a folder: name the results folder to merge from (one holding "
                          f"<experiment>.csv files)")
    if src.resolve() == out.resolve():
        raise ConfigError(f"{src} is the folder merged into: name another")
    if queue not in QUEUES:
        raise ConfigError(f"unknown queue {queue!r}; choose one of: {', '.join(QUEUES)}")
    report, touched = MergeReport(), set()
    for name in list_experiments():
        theirs = output_paths(src, name, "paper")[0]
        if not theirs.exists():
            continue
        runs = store.load_runs(theirs)  # a damaged file ends here, named, before anything is written
        ours = output_paths(out, name, "paper")[0]
        done = store.finished_ids(ours) if ours.exists() else set()
        for record in runs.to_dict("records"):
            if record["status"] not in store.FINAL_STATUSES:
                report.unfinished += 1
            elif record["run_id"] in done:
                report.kept += 1
            else:
                out.mkdir(parents=True, exist_ok=True)
                store.append_run(ours, {c: record[c] for c in store.RUN_COLUMNS})
                report.runs[name] = report.runs.get(name, 0) + 1
                touched.add((name, record["profile"]))
    report.timings = _merge_timings(campaign_dir(src) / "timings.csv", campaign_dir(out) / "timings.csv")
    theirs_dir, ours_dir = checkpoint_dir(src), checkpoint_dir(out)
    found = sorted(theirs_dir.glob("*.pt")) if theirs_dir.is_dir() else []
    units = plan_units(QUEUES[queue], out, 1)[0] if found else []
    left = {unit_checkpoint(out, u.runs).name for u in units}
    for ckpt in found:
        mine = ours_dir / ckpt.name
        if ckpt.name not in left or _epoch(ckpt) <= (_epoch(mine) if mine.exists() else -1):
            report.stale.append(ckpt.name)
        else:
            ours_dir.mkdir(parents=True, exist_ok=True)
            tmp = mine.with_name(f".{mine.name}.{os.getpid()}.tmp")
            shutil.copyfile(ckpt, tmp)
            os.replace(tmp, mine)
            report.checkpoints.append(f"{ckpt.name} (epoch {_epoch(mine)})")
    for name, profile in sorted(touched):
        resummarise(name, profile, out_dir=str(out))
    return report


def _merge_timings(theirs: Path, ours: Path) -> int:
    """Append the timing rows of `theirs` that `ours` lacks; the number added."""
    if not theirs.exists():
        return 0
    with open(theirs, newline="") as f:
        rows = [r for r in csv.DictReader(f)]
    if any(set(r) != set(TIMINGS_FIELDS) for r in rows):
        raise ConfigError(f"{theirs} is not a campaign timings file (its columns are not "
                          f"{', '.join(TIMINGS_FIELDS)})")
    ours.parent.mkdir(parents=True, exist_ok=True)
    with store.locked(ours):
        have = []
        if ours.exists():
            with open(ours, newline="") as f:
                have = [tuple(r[k] for k in TIMINGS_FIELDS) for r in csv.DictReader(f)]
        new = [r for r in rows if tuple(r[k] for k in TIMINGS_FIELDS) not in set(have)]
        if new:
            fresh = not ours.exists()
            with open(ours, "a", newline="") as f:
                w = csv.DictWriter(f, fieldnames=TIMINGS_FIELDS)
                if fresh:
                    w.writeheader()
                w.writerows(new)
    return len(new)
