"""bench/: the timing scripts run as a user runs them (a subprocess, never imported by path)."""
from __future__ import annotations

import os
import subprocess
import sys

from conftest import REPO


def _bench(script: str, *args: str, data: str | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}
    if data:
        env["FRECORE_DATA"] = data
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


def test_precision_control_pauses_continues_and_names_bad_rows(mnist_root, tmp_path):
    """Table 2's plain 10-layer chain in float64 on 200 images: cut after epoch 1, continued to 2."""
    bad = _bench("precision_control.py", "--row", "no such row", "--out", str(tmp_path / "bad"))
    assert bad.returncode == 2 and bad.stderr.startswith("error: unknown row") and bad.stderr.count("\n") == 1
    argv = ["--epochs", "2", "--train-subset", "200", "--test-subset", "200", "--out", str(tmp_path / "c")]
    first = _bench("precision_control.py", *argv, "--budget-min", "1e-6", data=mnist_root)
    assert first.returncode == 0, first.stderr
    assert "float64" in first.stdout and "paused" in first.stdout and "epoch   2" not in first.stdout
    import torch

    saved = torch.load(tmp_path / "c" / "checkpoint.pt", weights_only=False)
    assert {v.dtype for v in saved["net"].values()} == {torch.float64}  # trained in float64 indeed
    second = _bench("precision_control.py", *argv, data=mnist_root)
    assert second.returncode == 0, second.stderr
    assert "epoch   1" not in second.stdout and "epoch   2" in second.stdout
    assert "done: status ok" in second.stdout
    curve = (tmp_path / "c" / "curve.csv").read_text().splitlines()
    assert curve[0].startswith("epoch,") and [ln.split(",")[0] for ln in curve[1:]] == ["1", "2"]


def test_rounding_probe_compares_each_weights_float32_update_with_float64(mnist_root):
    bad = _bench("rounding_probe.py", "--row", "MNIST 5-symm BP", data=mnist_root)
    assert bad.returncode == 2 and bad.stderr == "error: 'MNIST 5-symm BP' is not trained by EP\n"
    done = _bench("rounding_probe.py", "--batch", "20", data=mnist_root)
    assert done.returncode == 0, done.stderr
    rows = [ln.strip("|").split("|") for ln in done.stdout.splitlines() if ln.startswith("| w_")]
    assert [r[0].strip() for r in rows] == ["w_in", *(f"w_blocks.{i}" for i in range(9)), "w_out"]
    assert float(rows[-1][1]) > 0.99  # the readout's update is exact enough in float32
    assert "updates compared: torch.float32 vs torch.float64" in done.stdout
    assert "free phase, float32" in done.stdout
    gone = _bench("rounding_probe.py", "--checkpoint", "no/such.pt", data=mnist_root)
    assert gone.returncode == 2 and gone.stderr.startswith("error:") and gone.stderr.count("\n") == 1
