"""Fault injection (issue 13): concurrent sweeps, kill -9 during writes, damaged results and data
files, unwritable paths. Each must lose nothing and answer with a result or one `error:` line."""
from __future__ import annotations

import contextlib
import csv
import errno
import io
import json
import math
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
from frecore.reporting.store import append_run, load_runs, read_runs, run_record
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
    procs = [subprocess.Popen(cmd, cwd=REPO, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True)
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
    # smoke never writes quick's files
    assert summary.exists() and not (tmp_path / "table1_summary.csv").exists()
    summary.write_text(summary.read_text()[:-30])
    rep = cli("report", "table1", "--profile", "smoke", "--out-dir", str(tmp_path))
    assert rep.returncode == 0 and "rebuilt" in rep.stderr and "nan" not in rep.stdout.lower(), rep.stderr
    assert "| 2HL | BP (tanh, Adam) |" in rep.stdout and "| 2HL | BP (tanh, Adam) | not run" not in rep.stdout


def test_a_header_that_is_not_a_runs_csv_is_one_error(tmp_path):
    (tmp_path / "table1.csv").write_text("a,b,c\n1,2,3\n")
    one_error_line(in_process("run", "table1", "--profile", "smoke", "--out-dir", str(tmp_path)),
                   "not a frecore runs CSV")


MNIST_FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte",
               "t10k-labels-idx1-ubyte")


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
    p = in_process("run", "table1", "--profile", "smoke", "--rows", CHEAP_ROW, "--device", "cpu",
                   "--data-root", mnist_root, "--out-dir", str(target), "--no-progress")
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


# -- round 2 (issue 25): every cell the store reads, file-system faults, interruptions, values ----------

def _good_runs(tmp_path: Path) -> Path:
    """A runs CSV of two finished runs (seeds 0 and 1 of the cheap row), written by the store."""
    path = tmp_path / "table1.csv"
    for p in plan("table1", "smoke", rows=[CHEAP_ROW], seeds=[0, 1]):
        record = run_record(p, None, status="failed", commit="abc")
        acc = 62.0 + p.seed
        record.update(status="ok", epochs_run=1, best_test_acc=acc, final_test_acc=acc, best_train_acc=60.0,
                      final_train_acc=60.0, wall_s=3.0, epoch_s=2.5, probe_before="{}",
                      history=json.dumps([{"epoch": 1, "train_loss": 1.2, "train_acc": 60.0, "test_loss": 1.1,
                                           "test_acc": acc, "seconds": 2.5}]))
        append_run(path, record)
    return path


def _damage(path: Path, column: str, value: str, record: int = 2) -> int:
    """Replace one cell of data record `record` (1-based) with `value`; its CSV column (1-based)."""
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    col = rows[0].index(column)
    rows[record][col] = value
    with open(path, "w", newline="") as f:
        csv.writer(f, lineterminator="\n").writerows(rows)
    return col + 1


JSON_DAMAGE = {"empty": "", "list": "[1, 2]", "number": "7", "invalid": "{not json", "huge": "x" * 100_000,
               "string": '"text"'}
NUMBER_DAMAGE = [("best_test_acc", "inf"), ("best_test_acc", "nan"), ("final_test_acc", "-inf"),
                 ("best_train_acc", "1e999"), ("final_train_acc", "101"), ("best_test_acc", "abc"),
                 ("wall_s", "inf"), ("epoch_s", "-1"), ("seed", "-1"), ("epochs_run", "1.5"),
                 ("epochs", str(2**63)), ("status", "done"), ("run_id", "not-an-id")]
DAMAGE = [(c, v) for c in ("config", "history", "probe_before") for k, v in JSON_DAMAGE.items()
          # an empty probe_before: rows before it
          if not (c == "probe_before" and k == "empty")] + NUMBER_DAMAGE


@pytest.mark.parametrize("column, value", DAMAGE, ids=[f"{c}={v[:12]}" for c, v in DAMAGE])
def test_a_bad_cell_is_one_error_with_line_and_column_and_the_file_is_untouched(tmp_path, column, value):
    from frecore.reporting.store import ResultsFileError, finished_ids

    path = _good_runs(tmp_path)
    k = _damage(path, column, value)
    before = path.read_bytes()
    p = in_process("report", "table1", "--profile", "smoke", "--out-dir", str(tmp_path), "--resummarise")
    one_error_line(p, str(path), "line 3", f"column {k} ({column}")
    for read in (load_runs, finished_ids):
        with pytest.raises(ResultsFileError, match="line 3"):
            read(path)
    # a writer stops too: nothing rewritten, nothing lost
    with pytest.raises(ResultsFileError, match="line 3"):
        append_run(path, run_record(plan("table1", "smoke")[5], None, status="failed", commit="abc"))
    assert path.read_bytes() == before and not list(tmp_path.glob("*.rejected")) and not list(
        tmp_path.glob(".*.tmp"))


def test_a_cell_longer_than_a_csv_field_may_be_is_one_error_with_its_line(tmp_path):
    path = _good_runs(tmp_path)
    _damage(path, "history", "x" * 200_000)
    before = path.read_bytes()
    one_error_line(in_process("report", "table1", "--profile", "smoke", "--out-dir", str(tmp_path),
                              "--resummarise"),
                   str(path), "line 3")
    assert path.read_bytes() == before


def test_run_stops_on_a_bad_cell_before_training_anything(tmp_path, mnist_root):
    path = _good_runs(tmp_path)
    _damage(path, "config", "[1, 2]")  # the example: a traceback (list indices must be integers)
    before = path.read_bytes()
    p = in_process("run", "table1", "--profile", "smoke", "--rows", CHEAP_ROW, "--seeds", "0", "1", "2",
                   "--device", "cpu", "--data-root", mnist_root, "--out-dir", str(tmp_path), "--no-progress")
    one_error_line(p, str(path), "line 3", "config")
    assert path.read_bytes() == before and not (tmp_path / "table1_smoke_summary.csv").exists()


def test_a_message_with_a_carriage_return_is_recorded_whole(tmp_path):
    """pandas writes a bare CR unquoted (its line end is LF), and a CSV reader ends the line there:
    the row would be torn in two and set aside."""
    path = _good_runs(tmp_path)
    p = plan("table1", "smoke")[5]
    append_run(path, run_record(p, None, status="failed", message="RuntimeError: a\rb\r\nc", commit="abc"))
    runs, bad = read_runs(path)
    assert not bad and len(runs) == 3
    assert runs.set_index("run_id").loc[p.run_id, "message"] == "RuntimeError: a\nb\nc"


@pytest.mark.parametrize("exact", [True, False])
def test_a_run_recorded_twice_is_an_error_naming_both_lines_never_counted_twice(tmp_path, exact):
    path = _good_runs(tmp_path)
    lines = path.read_text().splitlines()
    copy = lines[1] if exact else lines[1].replace("62.0", "61.0")
    path.write_text("\n".join([*lines, copy]) + "\n")
    before = path.read_bytes()
    p = in_process("report", "table1", "--profile", "smoke", "--out-dir", str(tmp_path), "--resummarise")
    one_error_line(p, str(path), "line 4", "line 2", "run_id")
    assert path.read_bytes() == before


def test_good_rows_summarise_once_each_and_report_prints_no_inf_or_nan(tmp_path):
    path = _good_runs(tmp_path)
    before = path.read_bytes()
    p = in_process("report", "table1", "--profile", "smoke", "--out-dir", str(tmp_path), "--resummarise")
    assert p.returncode == 0, p.stderr
    summary = tmp_path / "table1_smoke_summary.csv"
    import pandas as pd

    s = pd.read_csv(summary)
    line = s[s["row"] == CHEAP_ROW].iloc[0]
    assert line["n"] == 2 and line["best_test_mean"] == pytest.approx(62.5)  # both rows, each once
    s.loc[s["row"] == CHEAP_ROW, ["best_test_mean", "diff_vs_paper"]] = [math.inf, math.inf]
    s.to_csv(summary, index=False)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code, err = _run_cli_keep_stdout(["report", "table1", "--profile", "smoke", "--out-dir",
                                          str(tmp_path)])
    text = out.getvalue()
    assert code == 0 and "rebuilt" in err and "inf" not in text.lower() and "nan" not in text.lower(), (
        err, text)
    assert "62.50" in text and path.read_bytes() == before  # report reads the runs, never rewrites them


def _run_cli_keep_stdout(argv: list[str]) -> tuple[int, str]:
    from frecore.cli import main

    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        code = main(argv)
    return code, err.getvalue()


@pytest.mark.parametrize("fault", ["lock-is-a-folder", "claims-is-a-file", "checkpoints-is-a-file",
                                   "claim-is-a-folder"])
def test_the_stores_own_paths_of_the_wrong_kind_are_one_error(tmp_path, mnist_root, fault):
    path = _good_runs(tmp_path)
    before = path.read_bytes()
    bad = {"lock-is-a-folder": tmp_path / ".table1.csv.lock", "claims-is-a-file": tmp_path / ".claims",
           "checkpoints-is-a-file": tmp_path / ".checkpoints",
           "claim-is-a-folder": tmp_path / ".claims"}[fault]
    if fault == "lock-is-a-folder":
        bad.unlink()
        bad.mkdir()
    elif fault == "claim-is-a-folder":  # found only when the run is claimed: still before it trains
        p2 = plan("table1", "smoke", rows=[CHEAP_ROW], seeds=[2])[0]
        (bad / f"{p2.run_id}.lock").mkdir(parents=True)
        bad = bad / f"{p2.run_id}.lock"
    else:
        bad.write_text("not a folder")
    p = in_process("run", "table1", "--profile", "smoke", "--rows", CHEAP_ROW, "--seeds", "0", "1", "2",
                   "--device", "cpu", "--data-root", mnist_root, "--out-dir", str(tmp_path), "--no-progress")
    one_error_line(p, str(bad), "move")
    assert path.read_bytes() == before and not list(tmp_path.glob(".*.tmp"))


def test_a_full_disk_while_writing_leaves_the_old_file_whole_and_is_one_error(tmp_path, monkeypatch):
    """A tmpfs needs mount rights a test rarely has: the full disk is simulated where the store
    syncs its temp file (the write itself may be buffered until then)."""
    from frecore.reporting.store import ResultsFileError

    path = _good_runs(tmp_path)
    before = path.read_bytes()

    def full(fd):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(ResultsFileError, match="No space left on device"):
        append_run(path, run_record(plan("table1", "smoke")[5], None, status="failed", commit="abc"))
    p = in_process("report", "table1", "--profile", "smoke", "--out-dir", str(tmp_path), "--resummarise")
    one_error_line(p, "table1_smoke_summary.csv", "No space left on device", "rerun")
    assert path.read_bytes() == before and not list(tmp_path.glob(".*.tmp"))


@pytest.fixture
def full_tmpfs(tmp_path):
    """A 64 KiB tmpfs, where the test may mount one (root with mount rights), else skipped."""
    mnt = tmp_path / "tmpfs"
    mnt.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mnt)], capture_output=True,
                      check=False).returncode:
        pytest.skip("cannot mount a tmpfs here")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", str(mnt)], capture_output=True, check=False)


def test_a_really_full_disk_leaves_the_runs_whole_and_is_one_error(full_tmpfs):
    from frecore.reporting.store import ResultsFileError

    path = full_tmpfs / "table1.csv"
    path.write_bytes(_good_runs(full_tmpfs.parent).read_bytes())
    # to its last byte
    with open(full_tmpfs / "filler", "wb", buffering=0) as f, contextlib.suppress(OSError):
        while f.write(b"\0" * 1024):
            pass
    before = path.read_bytes()
    with pytest.raises(ResultsFileError, match="No space left on device"):
        append_run(path, run_record(plan("table1", "smoke")[5], None, status="failed", commit="abc"))
    p = in_process("report", "table1", "--profile", "smoke", "--out-dir", str(full_tmpfs), "--resummarise")
    one_error_line(p, "No space left on device", "rerun")
    assert path.read_bytes() == before and not list(full_tmpfs.glob(".*.tmp"))


@pytest.mark.parametrize("what", ["file", "folder"])
def test_unreadable_mnist_files_or_folders_are_one_error(tmp_path, mnist_root, monkeypatch, what):
    from frecore.training import data

    raw = _mnist_copy(tmp_path, mnist_root)
    target = raw / "t10k-labels-idx1-ubyte" if what == "file" else raw
    if os.geteuid() != 0:  # root reads anything whatever its mode: then the denial is simulated
        target.chmod(0)
    elif what == "file":
        def deny(file, *args, **kw):
            if Path(file) == target:
                raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(file))
            return open(file, *args, **kw)

        monkeypatch.setattr(data, "open", deny, raising=False)
    else:
        real = os.access
        monkeypatch.setattr(os, "access", lambda p, mode, **kw: Path(p) != target and real(p, mode, **kw))
    try:
        p = in_process("train", "--hidden", "16", "--epochs", "1", "--train-subset", "100", "--device", "cpu",
                       "--data-root", str(tmp_path), "--no-download", "--no-progress")
    finally:
        target.chmod(0o755 if what == "folder" else 0o644)
    one_error_line(p, str(target), "permission denied")


@pytest.mark.parametrize("args, words", [
    (["train", "--hidden", "32", "--lr", "1e-3", "1e-3", "1e-3", "--dry-run"],
     ["lr lists 3 values", "2 weight matrices"]),
    (["train", "--hidden", "32", "--weight-decay", "0", "0", "0", "0", "--dry-run"],
     ["weight_decay lists 4"]),
    (["train", "--hidden", "32", "--train-last", "99", "--dry-run"], ["train_last=99", "2 weight matrices"]),
    (["train", "--arch", "conv", "--lr", "1e-3", "1e-3", "--dry-run"], ["3 weight matrices"]),
    (["train", "--hidden", "32", "--alpha", "1e39", "--dry-run"], ["alpha = 1e+39", "float32"]),
    (["train", "--hidden", "32", "--beta", "1e39", "--dry-run"], ["beta = 1e+39", "float32"]),
    (["train", "--settle-tol", "1e39", "--dry-run"], ["settle_tol", "float32"]),
    (["run", "table1", "--device", "tpu"], ["unknown device 'tpu'"]),
    (["report", "table1", "--update-readme", "/nonexistent-folder/README.md"], ["is not a file"]),
])
def test_values_are_checked_where_they_are_parsed(args, words):
    one_error_line(in_process(*args, "--no-progress" if args[0] in ("train", "run") else "--out-dir=results"),
                   *words)


def test_the_notebooks_device_parameter_is_one_config_error(tmp_path):
    from frecore.config import ConfigError
    from frecore.sweeps.driver import run_experiment

    with pytest.raises(ConfigError, match="unknown device 'tpu'"):  # what papermill -p device tpu reaches
        run_experiment("table1", profile="smoke", rows=CHEAP_ROW, device="tpu", out_dir=str(tmp_path),
                       progress=False)
    assert not list(tmp_path.iterdir())


def test_run_no_download_with_a_missing_root_is_one_error_and_creates_nothing(tmp_path):
    root = tmp_path / "no-data"
    p = in_process("run", "table1", "--profile", "smoke", "--rows", CHEAP_ROW, "--device", "cpu",
                   "--no-download", "--data-root", str(root), "--out-dir", str(tmp_path / "out"),
                   "--no-progress")
    one_error_line(p, str(root / "MNIST" / "raw"), "--no-download")
    assert not root.exists() and not (tmp_path / "out").exists()


def test_a_ray_address_that_does_not_answer_fails_in_seconds_naming_it(tmp_path):
    pytest.importorskip("ray")
    t = time.perf_counter()
    p = in_process("run", "table1", "--profile", "smoke", "--executor", "ray", "--address", "127.0.0.1:9",
                   "--out-dir", str(tmp_path), "--no-progress")
    one_error_line(p, "127.0.0.1:9", "does not answer")
    assert time.perf_counter() - t < 30


def _interruptible() -> None:
    """Give the child Ctrl-C's default action even when this suite runs in the background (a shell
    starts background jobs with SIGINT ignored, and Python then installs no KeyboardInterrupt)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.mark.parametrize("when", ["start-up", "mid-sweep"])
def test_ctrl_c_at_any_point_is_one_line_and_exit_130(tmp_path, mnist_root, when):
    """At start-up (the modules still importing: the interrupt is held until they finish, else a
    half-imported numpy fails the next import) and while a sweep trains (its claim taken): exit 130,
    one line, no traceback, nothing half-written."""
    proc = subprocess.Popen([sys.executable, "-m", "frecore", "run", "table1", "--profile", "smoke", "--rows",
                             CHEAP_ROW, "--seeds", "0", "1", "2", "3", "--device", "cpu", "--data-root",
                             mnist_root, "--out-dir", str(tmp_path), "--no-progress"],
                            cwd=REPO, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=_interruptible)
    if when == "start-up":
        time.sleep(1.0)  # past the interpreter's own start-up (site), inside the imports
    else:
        deadline = time.monotonic() + 120
        while not list((tmp_path / ".claims").glob("*.lock")) and time.monotonic() < deadline:
            time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    lines = [line for line in err.splitlines() if line.strip()]
    assert proc.returncode == 130 and "Traceback" not in err and len(lines) == 1, (
        proc.returncode, err[-2000:])
    assert lines[0].startswith("interrupted")
    assert not list(tmp_path.glob(".*.tmp")) and not list(tmp_path.glob("*.rejected"))
    if (tmp_path / "table1.csv").exists():  # whatever was recorded is whole
        runs, bad = read_runs(tmp_path / "table1.csv")
        assert not bad and set(runs["status"]) <= {"ok"}
