"""The Ray executor: each planned run is a Ray task with declared resources (CPUs, a GPU share).

The only module that imports Ray, and only when a RayExecutor is made, so the package and its
default in-process executor need no Ray. The driver (run_experiment) stays the only writer: a
task returns its row and the driver records it as the task ends. A task whose worker dies
(killed, out of memory, node lost) is retried by Ray up to `max_retries` times; after that the
run comes back as a 'failed' row, so the sweep goes on and the next sweep retries it.
"""
from __future__ import annotations

import dataclasses
import math
import os
import socket
from typing import TYPE_CHECKING, Callable, Iterator, Sequence

from frecore.reporting import store
from frecore.config import ConfigError
from frecore.training.data import Dataset, MissingDataError
from frecore.training.train import RunPaused
from frecore.experiments import PlannedRun

if TYPE_CHECKING:
    from frecore.sweeps.trainer import RunTrainer

INSTALL_HINT = "install the ray extra: pip install -e '.[ray]'"
GPU_SHARE = 0.25  # default GPU share per run on a cluster with GPUs: our nets are small, four fit one GPU
MAX_RETRIES = 3
ANSWER_S = 5.0  # how long a cluster's address may take to accept a connection before we give up


def check_answers(address: str | None, timeout: float = ANSWER_S) -> None:
    """The Ray cluster at `address` (else $RAY_ADDRESS) accepts a TCP connection within `timeout`
    seconds; ConfigError naming it otherwise. ray.init itself retries a dead address for many
    minutes. 'auto', 'local' and no address at all are Ray's own to resolve."""
    address = address or os.environ.get("RAY_ADDRESS")
    if not address or address in ("auto", "local"):
        return
    hostport = address.split("://", 1)[-1].rstrip("/")
    host, sep, port = hostport.rpartition(":")
    if not sep or not port.isdigit() or not host:
        raise ConfigError(f"Ray address {address!r} is not HOST:PORT (nor auto or local)")
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=timeout):
            pass
    except (OSError, ValueError, OverflowError) as exc:
        why = "no answer" if isinstance(exc, socket.timeout) else (getattr(exc, "strerror", None) or str(exc))
        raise ConfigError(f"the Ray cluster at {address!r} does not answer ({why}, waited up to "
                          f"{timeout:g}s); "
                          f"start it (ray start --head) or fix --address / $RAY_ADDRESS") from None

# A Ray worker is a long-lived process that runs task after task (max_calls=0 below, also for GPU
# tasks, whose default would be a fresh process per task): the dataset its first task loads stays
# in this process-level cache for the next ones, so each worker reads the data root once, not once
# per run. A plain module dict rather than an actor keeps scheduling per task, each task with its
# own resources; the cache is keyed like RunTrainer's (dataset config, device, dtype).
_WORKER_DATA: dict[tuple, Dataset] = {}
STOP_POLL_S = 1.0  # how often the driver looks for a stop while its tasks train


def train_in_worker(trainer: RunTrainer, p: PlannedRun, threads: int) -> dict | Exception:
    """A Ray task's body: train one run with this worker's data cache; a set-up error (missing
    data, bad config) comes back as a value for the driver to handle, not as a task failure, and so
    does a pause at the deadline (the driver then reports the sweep paused, its checkpoint kept)."""
    import torch

    torch.set_num_threads(threads)  # the task declared this many CPUs; use no more
    if trainer.until is not None and trainer.until.passed():
        # queued behind runs that paused: its first epoch (unmeasured here) would end past the deadline
        return RunPaused(0, None, started=False)
    trainer = dataclasses.replace(trainer, cache=_WORKER_DATA)
    try:
        return trainer(p)
    except (ConfigError, MissingDataError, RunPaused) as exc:
        return exc


class RayExecutor:
    """Trains each run as a Ray task on the cluster at `address` (None: Ray's own choice, i.e.
    $RAY_ADDRESS, else a cluster already running on this machine, else a new local one).

    At most twice as many runs as the cluster has slots are dispatched (and claimed) at once, so
    a second sweep on the same results folder still finds unclaimed runs to take."""

    def __init__(self, address: str | None = None, cpus_per_run: float = 1.0,
                 gpus_per_run: float | None = None, max_retries: int = MAX_RETRIES):
        try:
            import ray
        except ImportError:
            raise ConfigError(f"the ray executor needs Ray, which is not installed; {INSTALL_HINT}") from None
        check_answers(address)  # a dead address fails now, in seconds, not after minutes of retries
        self.ray = ray
        self.address = address
        self.cpus_per_run = cpus_per_run
        self.gpus_per_run = gpus_per_run
        self.max_retries = max_retries
        self._task = ray.remote(max_calls=0)(train_in_worker)
        self._lost = (ray.exceptions.WorkerCrashedError, ray.exceptions.NodeDiedError,
                      ray.exceptions.OutOfMemoryError, ray.exceptions.ObjectLostError)

    def _connect(self) -> bool:
        """Join the cluster (unless this process already has); True when we started the Ray
        connection here, and so close it when the sweep ends."""
        if self.ray.is_initialized():
            return False
        try:
            self.ray.init(address=self.address, include_dashboard=False, log_to_driver=False)
        except (ConnectionError, ValueError, RuntimeError) as exc:
            where = f"the Ray cluster at {self.address!r}" if self.address else "a local Ray"
            raise ConfigError(f"cannot start or reach {where}: {exc}") from None
        return True

    def _gpus(self, runs: Sequence[PlannedRun], cluster: dict[str, float]) -> float:
        if self.gpus_per_run is not None:
            if self.gpus_per_run > cluster.get("GPU", 0):
                raise ConfigError(f"--gpus-per-run {self.gpus_per_run} but the Ray cluster has "
                                  f"{cluster.get('GPU', 0):g} GPU(s)")
            return self.gpus_per_run
        wants_gpu = any(p.config.device != "cpu" for p in runs)
        return GPU_SHARE if wants_gpu and cluster.get("GPU", 0) > 0 else 0.0

    def slots(self, gpus: float, cluster: dict[str, float]) -> int:
        """How many runs the cluster trains at once with these resources per run."""
        n = math.floor(cluster.get("CPU", 0) / self.cpus_per_run + 1e-9)
        if gpus > 0:
            n = min(n, math.floor(cluster.get("GPU", 0) / gpus + 1e-9))
        if n < 1:
            raise ConfigError(f"no Ray node can take a run of {self.cpus_per_run:g} CPU(s) and {gpus:g} "
                              f"GPU(s): the cluster has {cluster.get('CPU', 0):g} CPU(s), "
                              f"{cluster.get('GPU', 0):g} GPU(s)")
        return n

    def map(self, runs: Sequence[PlannedRun], trainer: RunTrainer,
            skip: Callable[[PlannedRun], bool]) -> Iterator[tuple[PlannedRun, dict | Exception]]:
        ray = self.ray
        started = self._connect()
        in_flight: dict = {}  # ObjectRef -> PlannedRun
        try:
            cluster = ray.cluster_resources()
            gpus = self._gpus(runs, cluster)
            window = 2 * self.slots(gpus, cluster)
            task = self._task.options(num_cpus=self.cpus_per_run, num_gpus=gpus, max_retries=self.max_retries)
            # no per-epoch bars in workers
            trainer_ref = ray.put(dataclasses.replace(trainer, progress=False))
            threads = max(1, int(self.cpus_per_run))
            pending = iter(runs)

            def dispatch() -> None:
                for p in pending:
                    if not skip(p):  # asked just before the run is dispatched: this claims it
                        in_flight[task.remote(trainer_ref, p, threads)] = p
                    if len(in_flight) >= window:
                        return

            dispatch()
            while in_flight:
                ready, _ = ray.wait(list(in_flight), num_returns=1, timeout=STOP_POLL_S)
                if not ready:
                    if trainer.until is not None and trainer.until.stopped:
                        return  # a stop (a signal), which a task's copy of the Deadline cannot see:
                        # the finally cancels what is in flight; the driver names those runs paused
                    continue
                (ref,) = ready
                p = in_flight.pop(ref)
                try:
                    outcome = ray.get(ref)
                # retried max_retries times already: a failed row, the sweep goes on
                except self._lost as exc:
                    why = f"Ray worker lost after {self.max_retries} retries: {type(exc).__name__}"
                    outcome = store.run_record(p, None, status="failed", commit=trainer.commit, message=why)
                except ray.exceptions.RayTaskError as exc:  # training errors are rows: this is the set-up
                    outcome = ConfigError(f"a Ray worker could not run {p.row.label!r} seed {p.seed} (is "
                                          f"frecore installed on every node? docs/scale-out.md): "
                                          f"{exc.cause!r}")
                yield p, outcome
                dispatch()
        finally:  # the driver stopped early (error, Ctrl-C) or we are done: leave nothing running
            for ref in in_flight:
                try:
                    ray.cancel(ref)  # interrupts the task; its worker (and data cache) lives on
                except Exception:  # already finished or gone: nothing left to stop
                    pass
            if started:
                ray.shutdown()
