"""Bring another results folder into this one: a lent GPU's, another machine's, a cluster node's.

Runs are keyed by run id, which names neither the device nor the data root, so a run trained
elsewhere is the run `run` or `campaign` would train here. A merge adds each finished run (ok or
diverged) this folder has not finished, the campaign's epoch timings it lacks, and each campaign
checkpoint of a unit still left here that holds more epochs than this folder's copy (so the
campaign continues the unit here); then it rebuilds the summaries it touched. Nothing of this
folder's finished runs is replaced, and merging twice adds nothing the second time.
"""
from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from frecore.config import ConfigError
from frecore.experiments import get_experiment, list_experiments
from frecore.reporting import store
from frecore.experiments.campaign import QUEUES
from frecore.sweeps.campaign import (append_timings, checkpoint_dir, checkpoint_progress, plan_units,
                                     read_timings, unit_checkpoint)
from frecore.sweeps.driver import output_paths, resummarise


@dataclass
class MergeReport:
    runs: dict[str, int] = field(default_factory=dict)  # experiment -> runs added
    kept: int = 0  # finished in both: this folder's row kept
    unfinished: int = 0  # failed runs of the other folder, not brought over
    timings: int = 0
    checkpoints: list[str] = field(default_factory=list)
    stale: list[str] = field(default_factory=list)  # of units finished here, or no further on than ours
    busy: list[str] = field(default_factory=list)  # of units a process here is training
    orphans: list[str] = field(default_factory=list)  # ours, of units the merge finished

    def describe(self) -> str:
        added = ", ".join(f"{n} to {e}" for e, n in sorted(self.runs.items())) or "none"
        return (f"runs added: {added}; {self.kept} already finished here (kept), {self.unfinished} "
                f"unfinished there (left); {self.timings} campaign timing(s); {len(self.checkpoints)} "
                f"checkpoint(s)"
                + (f" further on than ours: {', '.join(self.checkpoints)}" if self.checkpoints else "")
                + (f"; {len(self.stale)} left (of units finished here, or no further on)"
                   if self.stale else "")
                + (f"; {len(self.busy)} left, a process here is training their units: "
                   f"{', '.join(self.busy)}" if self.busy else "")
                + (f"; checkpoints here of units now finished (no longer read; delete them): "
                   f"{', '.join(self.orphans)}" if self.orphans else ""))


def merge_results(source: str | os.PathLike, out_dir: str | os.PathLike = "results",
                  queue: str = "paper") -> MergeReport:
    """Add `source`'s finished runs, timings and further-on checkpoints (of `queue`'s units left in
    `out_dir`) to `out_dir` (see the module). Every source file is read and checked before anything
    is written, so a damaged one changes nothing here."""
    src, out = Path(source), Path(out_dir)
    if not src.is_dir():
        raise ConfigError(f"{src} is not a folder: name the results folder to merge from (one holding "
                          f"<experiment>.csv files)")
    if src.resolve() == out.resolve():
        raise ConfigError(f"{src} is the folder merged into: name another")
    if queue not in QUEUES:
        raise ConfigError(f"unknown queue {queue!r}; choose one of: {', '.join(QUEUES)}")
    sources = {name: store.load_runs(output_paths(src, name, "paper")[0]) for name in list_experiments()
               if output_paths(src, name, "paper")[0].exists()}
    timings = read_timings(src)
    report, touched = MergeReport(), set()
    for name, runs in sources.items():
        ours = output_paths(out, name, "paper")[0]
        for record in runs.to_dict("records"):
            if record["status"] not in store.FINAL_STATUSES:
                report.unfinished += 1
                continue
            out.mkdir(parents=True, exist_ok=True)
            # checked under the file's lock: a run a campaign here finished meanwhile stays ours
            if store.append_run(ours, {c: record[c] for c in store.RUN_COLUMNS}, keep_finished=True):
                report.runs[name] = report.runs.get(name, 0) + 1
                touched.add((name, record["profile"]))
            else:
                report.kept += 1
    report.timings = append_timings(out, timings, only_new=True)
    _merge_checkpoints(checkpoint_dir(src), out, queue, report)
    # each touched experiment's summaries, and those of the figures that read its runs (Row.owner)
    for name, profile in sorted(touched):
        readers = [e for e in list_experiments() if any(r.owner == name for r in get_experiment(e).rows())]
        for experiment in [name, *readers]:
            resummarise(experiment, profile, out_dir=str(out))
    return report


def _merge_checkpoints(theirs_dir: Path, out: Path, queue: str, report: MergeReport) -> None:
    """Copy each checkpoint of a unit left here that holds more epochs than ours, unless a process
    here holds the unit's runs (it would overwrite the copy at its next epoch)."""
    found = sorted(theirs_dir.glob("*.pt")) if theirs_dir.is_dir() else []
    ours_dir = checkpoint_dir(out)
    units = {unit_checkpoint(out, u.runs).name: u for u in plan_units(QUEUES[queue], out, 1)[0]}
    report.orphans = sorted(p.name for p in ours_dir.glob("*.pt") if p.name not in units) \
        if ours_dir.is_dir() and report.runs else []
    claims = store.RunClaims(out / ".claims")
    try:
        for ckpt in found:
            mine = ours_dir / ckpt.name
            if ckpt.name not in units or checkpoint_progress(ckpt)[0] <= checkpoint_progress(mine)[0]:
                report.stale.append(ckpt.name)
            elif not all(claims.take(p.run_id) for p in units[ckpt.name].runs):
                report.busy.append(ckpt.name)
            else:
                ours_dir.mkdir(parents=True, exist_ok=True)
                tmp = mine.with_name(f".{mine.name}.{os.getpid()}.tmp")
                shutil.copyfile(ckpt, tmp)
                os.replace(tmp, mine)
                report.checkpoints.append(f"{ckpt.name} (epoch {checkpoint_progress(mine)[0]})")
            for p in units[ckpt.name].runs if ckpt.name in units else []:
                claims.release(p.run_id)
    finally:
        claims.release_all()
