"""bench/: the timing scripts run as a user runs them (a subprocess, never imported by path)."""
from __future__ import annotations

import os
import subprocess
import sys

from conftest import REPO


def _bench(script: str, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, str(REPO / "bench" / script), *args], capture_output=True,
                          text=True, env=env, cwd=REPO, timeout=600)


def test_ensemble_bad_input_is_one_message():
    for argv, what in ((["--cases", "9"], "--cases"), (["--fraction", "0"], "--fraction"),
                       (["--repeats", "0"], "--repeats")):
        done = _bench("ensemble.py", *argv)
        assert done.returncode == 2 and done.stderr.startswith(f"error: {what}")
        assert done.stderr.count("\n") == 1


def test_ensemble_times_a_sweep_side_by_side(mnist_root):
    """Table S1's beta sweep (7 small members), a sliver of an epoch: a row with both timings and a ratio."""
    done = _bench("ensemble.py", "--cases", "3", "--fraction", "0.002", "--repeats", "1",
                  "--data-root", mnist_root)
    assert done.returncode == 0, done.stderr
    line = [ln for ln in done.stdout.splitlines() if ln.startswith("| Table S1")][0]
    cells = [c.strip() for c in line.strip("|").split("|")]
    assert float(cells[1]) > 0 and float(cells[2]) > 0 and float(cells[4]) > 0


def test_conv_pool_times_both_poolings_and_they_give_the_same_gradients():
    assert _bench("conv_pool.py", "--repeats", "0").returncode == 2
    done = _bench("conv_pool.py", "--repeats", "1", "--threads", "1")
    assert done.returncode == 0, done.stderr
    rows = [ln for ln in done.stdout.splitlines() if ln.startswith("| table")]
    assert len(rows) == 3 and all(ln.rstrip().endswith("| yes |") for ln in rows)
