"""Where a sweep's runs are trained: the executor seam of `frecore.sweeps.driver.run_experiment`.

An executor only trains; the driver (run_experiment) claims each run, records each row as it
comes back and is the only writer of the results, so resuming, claims and Ctrl-C behave the same
whichever executor trained the rows. `InProcess` (the default) needs nothing beyond the package;
`ray` lives in frecore.sweeps.ray_executor, the only module that imports Ray, so Ray stays optional.
"""
from __future__ import annotations

import math
from typing import TYPE_CHECKING, Callable, Iterator, Protocol, Sequence

from frecore.config import ConfigError
from frecore.training.data import MissingDataError
from frecore.experiments import PlannedRun

if TYPE_CHECKING:
    from frecore.sweeps.trainer import RunTrainer

EXECUTORS = ("auto", "inprocess", "side-by-side", "ray")  # auto: side-by-side on CUDA, else inprocess
Outcome = tuple[PlannedRun, "dict | Exception"]


class Executor(Protocol):
    """Trains planned runs somewhere and yields (run, row) as each ends, in any order.

    `skip(run)` is asked just before a run is dispatched (the driver's view: its dataset is
    missing, or another process claimed it); a skipped run yields nothing. An exception that the
    trainer raises (missing data, bad config) is yielded as (run, exception) for the driver to
    handle. The driver closes the iterator when it stops early (error, Ctrl-C), so an executor
    cancels what it still has in flight in a `finally`."""

    def map(self, runs: Sequence[PlannedRun], trainer: RunTrainer,
            skip: Callable[[PlannedRun], bool]) -> Iterator[Outcome]: ...


class InProcess:
    """The default executor: one run after another in this process; with `side_by_side`, planned
    runs that can share a pass (frecore.training.members.groupable: runs of one shape differing in
    seed, alpha_i, beta_i; one probe, none that reads the last batch: `groups`) train together, one
    row per run as before. A group checkpoints every
    epoch, as a single run does: a cut group continues (when it is planned again with the same
    members)."""

    def __init__(self, side_by_side: bool = False) -> None:
        self.side_by_side = side_by_side

    def map(self, runs: Sequence[PlannedRun], trainer: RunTrainer,
            skip: Callable[[PlannedRun], bool]) -> Iterator[Outcome]:
        for group in (groups(runs, trainer.probe_name) if self.side_by_side else [[p] for p in runs]):
            members = [p for p in group if not skip(p)]
            if not members:
                continue
            try:
                rows = trainer.group(members) if len(members) > 1 else [trainer(members[0])]
                yield from zip(members, rows)
            except (ConfigError, MissingDataError) as exc:
                yield from ((p, exc) for p in members)


def planned_probe(p: PlannedRun) -> str | None:
    """The probe a planned run is measured with: its row's (Row.probe), else its owner's (the driver's
    RunTrainer.probe_name says the same)."""
    from frecore.experiments.registry import EXPERIMENTS

    owner = EXPERIMENTS.get(p.experiment)
    return p.row.probe or (owner.probe if owner is not None else None)


def alone(probe: str | None) -> bool:
    """Whether runs measured with `probe` must train one by one: it reads its run's last training batch
    (the per-neuron error), which a side-by-side pass does not keep per member."""
    from frecore.analysis.probes import PROBES

    return probe is not None and getattr(PROBES.get(probe), "reads_last_batch", False)


def groups(runs: Sequence[PlannedRun],
           probe_of: Callable[[PlannedRun], str | None] = planned_probe) -> list[list[PlannedRun]]:
    """Consecutive planned runs that can train side by side, in plan order (a row's seeds, a
    sweep's settings), each group sized to half the device's free memory. A group's runs share one
    probe (`probe_of`), measured on each member's own net (fit_members); a run whose probe reads
    the last batch trains alone."""
    from frecore.training.members import groupable, members_that_fit, worth_grouping

    out: list[list[PlannedRun]] = []
    cap = 0  # members the current group may hold: computed once, when it starts
    for p in runs:
        probe = probe_of(p)
        if (out and len(out[-1]) < cap and worth_grouping(p.config) and not alone(probe)
                and probe_of(out[-1][0]) == probe and groupable([q.config for q in out[-1]] + [p.config])):
            out[-1].append(p)
        else:
            out.append([p])
            cap = 1 if alone(probe) else members_that_fit(p.config)
    return out


def get_executor(name: str | Executor | None = "auto", address: str | None = None,
                 cpus_per_run: float = 1.0, gpus_per_run: float | None = None, side_by_side: bool = False,
                 device: str = "auto") -> Executor:
    """The executor called `name` (an Executor object is returned as is); 'auto' (or None) trains
    side by side on CUDA, where small nets are launch-bound, and one run after another elsewhere.

    Checked before any training: an unknown name, Ray options without Ray, or a missing Ray
    install is a ConfigError (one `error:` line at the command line)."""
    if name is None:
        name = "auto"
    if not isinstance(name, str):
        return name
    if name not in EXECUTORS:
        raise ConfigError(f"unknown executor {name!r}; choose one of: {', '.join(EXECUTORS)}")
    if not 0 < cpus_per_run < math.inf:
        raise ConfigError(f"--cpus-per-run must be > 0, got {cpus_per_run}")
    if gpus_per_run is not None and not 0 <= gpus_per_run < math.inf:
        raise ConfigError(f"--gpus-per-run must be >= 0 (a fraction of a GPU, or whole GPUs), got "
                          f"{gpus_per_run}")
    if name == "auto":
        from frecore.training.train import resolve_device

        if address is None and gpus_per_run is None and cpus_per_run == 1:
            name = "side-by-side" if resolve_device(device).type == "cuda" else "inprocess"
        else:
            name = "inprocess"  # refused below with the Ray options' message
    if name in ("inprocess", "side-by-side"):
        if address is not None or gpus_per_run is not None or cpus_per_run != 1:
            raise ConfigError("--address, --cpus-per-run and --gpus-per-run place runs on a Ray cluster: "
                              "they need --executor ray")
        return InProcess(side_by_side=side_by_side or name == "side-by-side")
    if side_by_side:
        raise ConfigError("--side-by-side groups runs in this process: it needs --executor inprocess")
    from frecore.sweeps.ray_executor import RayExecutor

    return RayExecutor(address=address, cpus_per_run=cpus_per_run, gpus_per_run=gpus_per_run)
