"""Fault injection (issue 13): concurrent sweeps, kill -9 during writes, damaged results and data
files, unwritable paths. Each must lose nothing and answer with a result or one `error:` line."""
from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from frecore.experiments import plan
from frecore.reporting.store import RUN_COLUMNS, append_run, load_runs, read_runs, run_record
from tests.conftest import REPO

ENV = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
CHEAP_ROW = "2HL BP (tanh, Adam)"
TRIALS = int(os.environ.get("FRECORE_FAULT_TRIALS", "2"))  # 20 for the check (docs/reliability.md)


def cli(*args: str, timeout: int = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "frecore", *args], cwd=REPO, env=ENV, capture_output=True,
                          text=True, timeout=timeout)


def in_process(*args: str) -> subprocess.CompletedProcess:
    """The CLI called in this process (no interpreter start-up): the same code path as `cli`."""
    from tests.test_properties import run_cli

    code, err = run_cli(list(args))
    return subprocess.CompletedProcess(list(args), code, "", err)


def one_error_line(p: subprocess.CompletedProcess, *words: str) -> None:
    lines = [line for line in p.stderr.splitlines() if line.strip()]
    assert p.returncode == 2, (p.returncode, p.stderr[-2000:])
    assert "Traceback" not in p.stderr and len(lines) == 1 and "error: " in lines[0], p.stderr
    for w in words:
        assert w in lines[0], (w, lines[0])


@pytest.mark.parametrize("trial", range(TRIALS))
def test_two_concurrent_sweeps_lose_duplicate_and_repeat_nothing(tmp_path, mnist_root, trial):
    seeds = ["0", "1", "2", "3"]
    cmd = [sys.executable, "-m", "frecore", "run", "table1", "--profile", "smoke", "--device", "cpu",
           "--rows", CHEAP_ROW, "--seeds", *seeds, "--data-root", mnist_root, "--out-dir", str(tmp_path)]
    procs = [subprocess.Popen(cmd, cwd=REPO, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(2)]
    outs = [p.communicate(timeout=600) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [o[1][-2000:] for o in outs]
    trained = [re.findall(rf"^{re.escape(CHEAP_ROW)} seed (\d+)$", o[0], re.M) for o in outs]
    assert sorted(trained[0] + trained[1]) == seeds  # each run trained by exactly one of the sweeps
    runs = load_runs(tmp_path / "table1.csv")
    expected = {p.run_id for p in plan("table1", "smoke", rows=[CHEAP_ROW], seeds=[int(s) for s in seeds],
                                       device="cpu", data_root=mnist_root)}
    assert sorted(runs["run_id"]) == sorted(expected) and (runs["status"] == "ok").all()


def _append_forever(path: str, log: str) -> None:
    """Append rows with fresh ids; after each append returns, log its id (fsync'd): a logged row
    was promised to be on disk."""
    p = plan("table1", "smoke")[0]
    with open(log, "a") as f:
        for i in range(10**6):
            record = run_record(p, None, status="failed", message="kill test", commit="abc")
            record["run_id"] = f"{os.getpid() % 4096:03x}{i:09x}"
            append_run(path, record)
            f.write(record["run_id"] + "\n")
            f.flush()
            os.fsync(f.fileno())


def test_kill_9_during_writes_loses_no_promised_row_and_leaves_no_temp_file(tmp_path):
    import multiprocessing as mp

    path, log = tmp_path / "runs.csv", tmp_path / "promised.log"
    ctx = mp.get_context("fork")
    for delay in (0.4, 0.7, 1.1):  # kill at several points of the write cycle
        proc = ctx.Process(target=_append_forever, args=(str(path), str(log)))
        proc.start()
        time.sleep(delay)
        os.kill(proc.pid, signal.SIGKILL)
        proc.join()
        runs, bad = read_runs(path)
        assert not bad  # the file is always whole: the old version or the new one
        promised = set(log.read_text().split())
        assert promised <= set(runs["run_id"])
    from frecore.reporting.store import clean_stale_temp_files

    clean_stale_temp_files(tmp_path)
    assert not list(tmp_path.glob(".*.tmp"))


def _recorded_csv(tmp_path: Path) -> Path:
    path = tmp_path / "table1.csv"
    for i, p in enumerate(plan("table1", "smoke")[:3]):
        record = run_record(p, None, status="failed", message="fixture", commit="abc")
        append_run(path, record)
    return path


@pytest.mark.parametrize("damage", ["truncate-last", "garbage-line", "extra-field", "binary"])
def test_damaged_csv_lines_are_set_aside_not_padded(tmp_path, damage):
    path = _recorded_csv(tmp_path)
    text = path.read_text()
    if damage == "truncate-last":
        path.write_text(text[: len(text) - 40])
    elif damage == "garbage-line":
        path.write_text(text + "this is, not a row\n")
    elif damage == "extra-field":
        lines = text.splitlines()
        path.write_text("\n".join([*lines, lines[-1] + ",surplus"]) + "\n")
    else:
        path.write_bytes(text.encode() + b"\x00\xff\xfe garbage \x00\n")
    if damage == "binary":
        from frecore.reporting.store import ResultsFileError

        with pytest.raises(ResultsFileError, match=str(path)):
            read_runs(path)
        return
    runs, bad = read_runs(path)
    assert len(bad) == 1 and len(runs) == (2 if damage == "truncate-last" else 3)
    assert runs["seed"].dtype == "int64" and runs["epochs"].dtype == "int64"
    p = plan("table1", "smoke")[5]
    append_run(path, run_record(p, None, status="failed", message="after", commit="abc"))
    runs, bad = read_runs(path)
    assert not bad and p.run_id in set(runs["run_id"])
    assert (tmp_path / "table1.csv.rejected").read_text().strip()  # the damaged line is kept, not lost


def test_report_on_a_truncated_summary_rebuilds_it(tmp_path, mnist_root):
    out = cli("run", "table1", "--profile", "smoke", "--rows", CHEAP_ROW, "--device", "cpu", "--data-root",
              mnist_root, "--out-dir", str(tmp_path), "--no-progress")
    assert out.returncode == 0, out.stderr[-2000:]
    summary = tmp_path / "table1_smoke_summary.csv"
    assert summary.exists() and not (tmp_path / "table1_summary.csv").exists()  # smoke never writes quick's files
    summary.write_text(summary.read_text()[:-30])
    rep = cli("report", "table1", "--profile", "smoke", "--out-dir", str(tmp_path))
    assert rep.returncode == 0 and "rebuilt" in rep.stderr and "nan" not in rep.stdout.lower(), rep.stderr
    assert "| 2HL | BP (tanh, Adam) |" in rep.stdout and "| 2HL | BP (tanh, Adam) | not run" not in rep.stdout


def test_a_header_that_is_not_a_runs_csv_is_one_error(tmp_path):
    (tmp_path / "table1.csv").write_text("a,b,c\n1,2,3\n")
    one_error_line(in_process("run", "table1", "--profile", "smoke", "--out-dir", str(tmp_path)), "not a frecore runs CSV")


MNIST_FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")


def _mnist_copy(tmp_path: Path, src_root: str) -> Path:
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for f in MNIST_FILES:
        shutil.copyfile(Path(src_root) / "MNIST" / "raw" / f, raw / f)
    return raw


@pytest.mark.parametrize("damage, file, words", [
    ("truncate", "t10k-images-idx3-ubyte", ["t10k-images-idx3-ubyte", "truncated"]),
    ("magic", "train-labels-idx1-ubyte", ["train-labels-idx1-ubyte", "magic number"]),
    ("fewer-labels", "t10k-labels-idx1-ubyte", ["t10k-labels-idx1-ubyte", "9000 labels for 10000 images"]),
    ("label-200", "t10k-labels-idx1-ubyte", ["t10k-labels-idx1-ubyte", "label 200"]),
    ("empty", "train-images-idx3-ubyte", ["train-images-idx3-ubyte", "shorter than an IDX images header"]),
])
def test_damaged_idx_files_are_named_with_their_problem(tmp_path, mnist_root, damage, file, words):
    raw = _mnist_copy(tmp_path, mnist_root)
    f = raw / file
    data = bytearray(f.read_bytes())
    if damage == "truncate":
        data = data[:-1000]
    elif damage == "magic":
        data[0:4] = b"\x1f\x8b\x08\x00"
    elif damage == "fewer-labels":
        data = data[:8 + 9000]
        data[4:8] = (9000).to_bytes(4, "big")
    elif damage == "label-200":
        data[8 + 17] = 200
    else:
        data = bytearray()
    f.write_bytes(bytes(data))
    p = in_process("train", "--hidden", "16", "--epochs", "1", "--train-subset", "100", "--device", "cpu",
                   "--data-root", str(tmp_path), "--no-download", "--no-progress")
    one_error_line(p, *words)


@pytest.mark.parametrize("where", ["file", "proc"])
def test_unwritable_out_dir_fails_before_training(tmp_path, mnist_root, where):
    target = tmp_path / "a-file" if where == "file" else Path("/proc/frecore-results")
    if where == "file":
        target.write_text("not a folder")
    p = in_process("run", "table1", "--profile", "smoke", "--rows", CHEAP_ROW, "--device", "cpu", "--data-root",
            mnist_root, "--out-dir", str(target), "--no-progress")
    one_error_line(p, str(target))
    assert "seed 0" not in p.stdout  # nothing was trained


@pytest.mark.parametrize("args, words", [
    (["train", "--out", "/proc/frecore.json"], ["--out"]),
    (["train", "--out", "."], ["is a folder"]),
    (["report", "table1", "--update-readme", "pyproject.toml"], ["no <!-- table1:start -->"]),
    (["report", "nope"], ["unknown experiment 'nope'"]),
    (["train", "--hidden", "1000000000"], ["GiB"]),
    (["train", "--hidden", "64", "--beta", "nan"], ["beta must be finite"]),
    (["train", "--hidden", "64", "--alpha", "-1"], ["alpha must be >= 0"]),
    (["train", "--beta", "1e308"], ["not representable in float32"]),
    (["train", "--seed", "99999999999999999999"], ["seed must be an integer in"]),
    (["train", "--beta-f", "0"], ["beta_f must be > 0"]),
    (["train", "--hidden", "x"], ["invalid int value"]),
])
def test_hostile_values_are_one_error_line(args, words):
    one_error_line(in_process(*args, "--no-progress" if args[0] == "train" else "--out-dir=results"), *words)
