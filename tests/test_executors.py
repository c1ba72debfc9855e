"""Executors: the name -> executor seam, the Ray worker's data cache, the sweep's progress bar, and
a local Ray (2 CPUs) that records the same rows as the in-process executor and survives a killed
worker. The Ray tests start one Ray for the file; they are skipped, saying why, only where Ray is
not installed or cannot start."""
from __future__ import annotations

import json
import os
import pickle
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch

from frecore.reporting import store
from frecore.sweeps import driver as sweep
from frecore.sweeps import trainer
from frecore.cli import main
from frecore.config import ConfigError
from frecore.sweeps.executors import InProcess, get_executor
from frecore.experiments import plan
from tests.conftest import REPO

ROWS = ["2HL BP (tanh, Adam)", "2HL Ours (tanh, Adam)"]  # the two cheapest smoke rows (< 1 s each)
SAME = ["run_id", "row", "seed", "status", "epochs_run", "best_test_acc", "final_test_acc", "best_train_acc",
        "final_train_acc", "config"]


@pytest.fixture
def one_thread():
    """Both executors train with one torch thread (a Ray task declares one CPU), so CPU numbers match."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def curves(history: str) -> list[tuple]:
    """A run's per-epoch numbers without its timings."""
    return [(e["epoch"], e["train_loss"], e["train_acc"], e["test_loss"], e["test_acc"])
            for e in json.loads(history)]


def test_executor_names_resolve_and_bad_ones_are_one_line_errors(capsys):
    assert isinstance(get_executor("inprocess"), InProcess) and isinstance(get_executor(None), InProcess)
    assert get_executor("side-by-side").side_by_side and not get_executor("inprocess").side_by_side
    mine = InProcess()
    assert get_executor(mine) is mine
    with pytest.raises(ConfigError, match="unknown executor 'dask'; choose one of: auto, inprocess, "
                                          "side-by-side, ray"):
        get_executor("dask")
    with pytest.raises(ConfigError, match="need --executor ray"):
        get_executor("inprocess", address="auto")
    for bad in (dict(cpus_per_run=0), dict(gpus_per_run=-0.5), dict(gpus_per_run=float("nan"))):
        with pytest.raises(ConfigError, match="per-run"):
            get_executor("ray", **bad)
    assert main(["run", "table1", "--profile", "smoke", "--executor", "dask", "--out-dir", "unused"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: unknown executor") and err.count("\n") == 1
    assert not Path("unused").exists()  # refused before any folder or training


def test_without_ray_the_ray_executor_says_how_to_install_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # what an environment without the extra sees
    with pytest.raises(ConfigError, match=r"pip install -e '\.\[ray\]'"):
        get_executor("ray")


def test_a_ray_worker_loads_each_dataset_once(monkeypatch, mnist_root):
    """The worker-side body of a task reuses the process's data cache from one task to the next."""
    from frecore.sweeps import ray_executor

    loads = []
    real = trainer.load_dataset
    monkeypatch.setattr(trainer, "load_dataset", lambda *a, **kw: loads.append(a) or real(*a, **kw))
    monkeypatch.setattr(ray_executor, "_WORKER_DATA", {})
    runs = plan("table1", "smoke", rows=ROWS, device="cpu", data_root=mnist_root)
    rows = [ray_executor.train_in_worker(trainer.RunTrainer(commit="test"), p, threads=1) for p in runs]
    assert [r["status"] for r in rows] == ["ok", "ok"]
    assert len(loads) == 1  # two runs (two fresh trainers, as Ray hands each task its own copy), one load


def test_a_ray_task_paused_by_the_deadline_returns_the_pause(mnist_root, tmp_path, monkeypatch):
    """A pause comes back as a value, which the driver handles as a pause (not a RayTaskError, which it
    would report as a node without frecore); a task that starts after the deadline (queued behind
    runs that paused) trains nothing, not even the first epoch nothing has measured."""
    from frecore.sweeps import ray_executor
    from frecore.training.train import Deadline, RunPaused

    p = plan("table1", "smoke", rows=ROWS, device="cpu", data_root=mnist_root)[0]
    pausing = trainer.RunTrainer(commit="test", checkpoint_dir=tmp_path, until=Deadline(at=time.time() + 60))

    def pauses(*args, **kw):
        raise RunPaused(3, tmp_path / "x.pt")

    monkeypatch.setattr(trainer, "fit", pauses)
    out = ray_executor.train_in_worker(pausing, p, threads=1)
    assert isinstance(out, RunPaused) and out.started
    back = pickle.loads(pickle.dumps(out))  # as Ray hands it to the driver
    assert (type(back), str(back), back.epoch, back.started) == (RunPaused, str(out), 3, True)
    monkeypatch.setattr(trainer, "load_dataset", lambda *a, **kw: pytest.fail("a late task loaded data"))
    late = ray_executor.train_in_worker(trainer.RunTrainer(commit="test", checkpoint_dir=tmp_path,
                                                           until=Deadline(at=time.time() - 1)), p, threads=1)
    assert isinstance(late, RunPaused) and not late.started


def test_ray_tasks_declare_a_gpu_share_only_where_there_are_gpus(mnist_root):
    pytest.importorskip("ray", reason="Ray is not installed: pip install -e '.[ray]'")
    from frecore.sweeps.ray_executor import GPU_SHARE, RayExecutor

    auto = plan("table1", "smoke", rows=ROWS, device="auto", data_root=mnist_root)
    cpu = plan("table1", "smoke", rows=ROWS, device="cpu", data_root=mnist_root)
    node = {"CPU": 16.0, "GPU": 1.0}
    ex = RayExecutor()
    assert ex._gpus(auto, node) == GPU_SHARE and ex.slots(GPU_SHARE, node) == 4  # four runs share the GPU
    assert ex._gpus(cpu, node) == 0 and ex.slots(0, node) == 16  # CPU runs leave the GPU alone
    assert ex._gpus(auto, {"CPU": 2.0}) == 0 and ex.slots(0, {"CPU": 2.0}) == 2
    assert RayExecutor(gpus_per_run=1)._gpus(cpu, node) == 1
    with pytest.raises(ConfigError, match="has 0 GPU"):
        RayExecutor(gpus_per_run=0.5)._gpus(auto, {"CPU": 2.0})
    with pytest.raises(ConfigError, match="no Ray node can take a run of 4 CPU"):
        RayExecutor(cpus_per_run=4).slots(0, {"CPU": 2.0})


def test_the_sweep_shows_one_bar_over_its_runs(tmp_path, mnist_root, capsys, one_thread):
    sweep.run_experiment("table1", "smoke", rows=ROWS, device="cpu", data_root=mnist_root,
                         out_dir=str(tmp_path), progress=True)
    err = capsys.readouterr().err
    assert "table1: 100%" in err and "2/2" in err and "<00:00" in err  # count, then the ETA


# --- a local Ray ----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def local_ray():
    """One local Ray (2 CPUs) for this file. Its workers import this test module (the killing
    trainer below), so the repository goes on their PYTHONPATH before Ray starts them."""
    try:
        import ray
    except ImportError:
        pytest.skip("Ray is not installed: pip install -e '.[ray]'")
    path = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), str(Path(__file__).parent), path]))
    try:
        # never a running one
        ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False)
    except Exception as exc:  # e.g. no shared memory or no free ports in a sandbox
        pytest.skip(f"a local Ray cannot start here: {type(exc).__name__}: {exc}")
    finally:
        if path is None:
            os.environ.pop("PYTHONPATH")
        else:
            os.environ["PYTHONPATH"] = path
    yield ray
    ray.shutdown()


def test_ray_records_the_same_rows_as_in_process_and_resumes_across_them(
        tmp_path, mnist_root, local_ray, one_thread):
    kw = dict(device="cpu", data_root=mnist_root, progress=False)
    here = sweep.run_experiment("table1", "smoke", rows=ROWS, out_dir=str(tmp_path / "inprocess"), **kw)
    there = sweep.run_experiment("table1", "smoke", rows=ROWS, out_dir=str(tmp_path / "ray"), executor="ray",
                                 **kw)
    a, b = (o.runs.sort_values("run_id").reset_index(drop=True) for o in (here, there))
    assert len(a) == 2 and (a["status"] == "ok").all()
    assert a[SAME].equals(b[SAME])
    assert list(map(curves, a["history"])) == list(map(curves, b["history"]))

    # resume across executors: the in-process sweep of one row, then Ray for both trains only the other
    mixed = tmp_path / "mixed"
    first = sweep.run_experiment("table1", "smoke", rows=ROWS[:1], out_dir=str(mixed), **kw).runs
    both = sweep.run_experiment("table1", "smoke", rows=ROWS, out_dir=str(mixed), executor="ray", **kw).runs
    assert len(both) == 2 and both["run_id"].is_unique
    kept = both.set_index("run_id").loc[first["run_id"].iloc[0]]
    assert kept["wall_s"] == first["wall_s"].iloc[0] and kept["history"] == first["history"].iloc[0]


class InterruptedAfterFirstRow:
    """Ctrl-C in the driver as soon as the first row is recorded (where a real one lands most often)."""

    def __init__(self, inner):
        self.inner = inner

    def map(self, runs, trainer, skip):
        outcomes = self.inner.map(runs, trainer, skip)
        try:
            yield next(outcomes)
            raise KeyboardInterrupt
        finally:
            outcomes.close()


def test_ctrl_c_keeps_the_finished_rows_and_the_next_sweep_resumes(tmp_path, mnist_root, local_ray):
    from frecore.sweeps.ray_executor import RayExecutor

    rows = ROWS + ["3HL Ours (tanh, Adam)"]
    kw = dict(device="cpu", data_root=mnist_root, out_dir=str(tmp_path), progress=False)
    with pytest.raises(KeyboardInterrupt):
        sweep.run_experiment("table1", "smoke", rows=rows, executor=InterruptedAfterFirstRow(RayExecutor()),
                             **kw)
    kept = store.load_runs(tmp_path / "table1.csv")
    assert len(kept) == 1 and list(kept["status"]) == ["ok"]
    claims = store.RunClaims(tmp_path / ".claims")  # nothing is left claimed by the interrupted sweep
    assert all(claims.take(p.run_id)
               for p in plan("table1", "smoke", rows=rows, device="cpu", data_root=mnist_root))
    claims.release_all()
    out = sweep.run_experiment("table1", "smoke", rows=rows, executor="ray", **kw)
    assert len(out.runs) == 3 and out.runs["run_id"].is_unique and (out.runs["status"] == "ok").all()
    assert out.runs.set_index("run_id").loc[kept["run_id"].iloc[0], "wall_s"] == kept["wall_s"].iloc[0]


@dataclass
class DiesOnFirstAttempt(trainer.RunTrainer):
    """A trainer whose worker process dies (os._exit) the first time it starts each run."""
    markers: str = ""

    def __call__(self, p):
        marker = Path(self.markers) / p.run_id
        if not marker.exists():
            marker.touch()
            os._exit(1)
        return super().__call__(p)


class WithTrainer:
    """An executor that trains through another trainer class (here: one that kills its worker)."""

    def __init__(self, inner, make):
        self.inner, self.make = inner, make

    def map(self, runs, trainer, skip):
        return self.inner.map(runs, self.make(trainer), skip)


def test_a_killed_worker_is_retried_and_its_run_recorded_once(tmp_path, mnist_root, local_ray, monkeypatch):
    from frecore.sweeps.ray_executor import RayExecutor

    appended = []
    real_append = store.append_run
    monkeypatch.setattr(store, "append_run", lambda path,
                        rec: appended.append(rec["run_id"]) or real_append(path, rec))
    markers = tmp_path / "attempts"
    markers.mkdir()
    killer = WithTrainer(RayExecutor(max_retries=2),
                         lambda t: DiesOnFirstAttempt(probe=t.probe, commit=t.commit, markers=str(markers)))
    out = sweep.run_experiment("table1", "smoke", rows=ROWS[:1], device="cpu", data_root=mnist_root,
                               out_dir=str(tmp_path / "out"), progress=False, executor=killer)
    run_id = plan("table1", "smoke", rows=ROWS[:1], device="cpu", data_root=mnist_root)[0].run_id
    assert (markers / run_id).exists()  # its first worker did die
    assert appended == [run_id]  # recorded once, by the driver
    assert list(out.runs["run_id"]) == [run_id] and list(out.runs["status"]) == ["ok"]

    # no retries left: the run comes back as a 'failed' row (retried by the next sweep), the sweep ends
    (markers / run_id).unlink()
    out = sweep.run_experiment("table1", "smoke", rows=ROWS[:1], device="cpu", data_root=mnist_root,
                               out_dir=str(tmp_path / "out2"), progress=False,
                               executor=WithTrainer(RayExecutor(max_retries=0), killer.make))
    assert list(out.runs["status"]) == ["failed"] and "worker lost" in out.runs["message"].iloc[0]



def test_auto_trains_side_by_side_on_cuda_and_one_after_another_elsewhere(monkeypatch):
    """The default of `run`, the notebooks and make: PROFILE=paper on a GPU groups runs by itself."""
    import torch

    from frecore.training import train

    assert not get_executor("auto", device="cpu").side_by_side and not get_executor(None).side_by_side
    monkeypatch.setattr(train, "resolve_device", lambda device: torch.device("cuda"))
    assert get_executor("auto", device="cuda").side_by_side and get_executor(None, device="auto").side_by_side
    assert not get_executor("inprocess", device="cuda").side_by_side
