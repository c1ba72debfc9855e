"""The results store: one CSV row per finished run, appended under a lock and atomically, with
the run's provenance (commit, device, torch); claims so that a run trains once; damaged lines
set aside. docs/reliability.md argues the design."""
from __future__ import annotations

import csv
import fcntl
import json
import math
import os
import platform
import subprocess
import sys
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import pandas as pd
import torch

from frecore.config import ConfigError
from frecore.experiments import PlannedRun
from frecore.reporting.schema import STATUSES, CellError, check_record  # noqa: F401 (STATUSES: kept importable here)
from frecore.training.train import RunResult

RUN_COLUMNS = [
    "run_id", "experiment", "row", "reading", "arch", "rule", "seed", "profile", "epochs", "epochs_run",
    "best_test_acc", "final_test_acc", "best_train_acc", "final_train_acc", "wall_s", "epoch_s",
    "device", "torch", "git_commit", "status", "message", "config", "history", "probe_before",
]
FINAL_STATUSES = ("ok", "diverged")  # a 'failed' run (an exception) is retried on resume


CODE_PATHS = ("frecore", "notebooks", "pyproject.toml")  # what decides a number; README and results do not


def git_commit(cwd: str | os.PathLike | None = None) -> str:
    """Short commit of the code that ran, with '+dirty' when that code had local changes."""
    cwd = Path(cwd or Path(__file__).resolve().parent)
    try:
        top = subprocess.run(["git", "rev-parse", "--show-toplevel"], cwd=cwd, capture_output=True,
                             text=True, check=True).stdout.strip()
        sha = subprocess.run(["git", "rev-parse", "--short=12", "HEAD"], cwd=top, capture_output=True,
                             text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "--", *CODE_PATHS],
                               cwd=top, capture_output=True, text=True, check=True).stdout.strip()
        return sha + ("+dirty" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def device_name(device: str) -> str:
    if device.startswith("cuda") and torch.cuda.is_available():
        return f"cuda:{torch.cuda.get_device_name()}"
    return f"cpu:{platform.processor() or platform.machine()} x{torch.get_num_threads()}"


def run_record(planned: PlannedRun, result: RunResult | None, status: str | None = None,
               message: str = "", commit: str | None = None) -> dict:
    """The CSV row of one run; `result=None` records a run that raised before finishing."""
    cfg = planned.config
    h = result.history if result is not None else []
    return {"run_id": planned.run_id, "experiment": planned.experiment, "row": planned.row.label,
            "reading": planned.reading, "arch": planned.row.arch, "rule": cfg.rule.name, "seed": planned.seed,
            "profile": planned.profile, "epochs": cfg.optim.epochs, "epochs_run": len(h),
            "best_test_acc": result.best_test_acc if result else math.nan,
            "final_test_acc": result.final_test_acc if result else math.nan,
            "best_train_acc": result.best_train_acc if result else math.nan,
            "final_train_acc": h[-1].train_acc if h else math.nan,
            "wall_s": result.wall_s if result else math.nan,
            "epoch_s": sum(e.seconds for e in h) / len(h) if h else math.nan,
            "device": device_name(result.device if result else cfg.device)
            + (f" (after {result.earlier_devices})" if result and result.earlier_devices else ""),
            "torch": torch.__version__,
            "git_commit": commit or git_commit(), "status": status or (result.status if result else "failed"),
            "message": message or (result.message if result else ""),
            "config": json.dumps(cfg.to_dict(), sort_keys=True),
            "history": json.dumps(result.history_dicts() if result else []),
            "probe_before": json.dumps(result.probe_before if result else {}),}


class ResultsFileError(ConfigError):
    """A results or summary file that cannot be read as one (wrong header, not a CSV)."""


INT_COLUMNS = ("seed", "epochs", "epochs_run")
FLOAT_COLUMNS = ("best_test_acc", "final_test_acc", "best_train_acc", "final_train_acc", "wall_s", "epoch_s")


def _row_error(path: Path, line: int, header: list[str], exc: CellError) -> ResultsFileError:
    column = header.index(exc.column.split(" ")[0]) + 1 if exc.column.split(" ")[0] in header else 0
    return ResultsFileError(f"{path}, line {line}, column {column} ({exc.column}): {exc.problem}; correct or "
                            f"delete that line and rerun (the file was left as it is)")


def _check_records(path: Path, header: list[str], records: list[tuple[int, list[str]]]) -> None:
    """Every well-formed record against the row schema (frecore.reporting.schema), and each run id
    once: ResultsFileError naming the file, line and column of the first bad cell."""
    first_line: dict[str, int] = {}
    for line, rec in records:
        cells = dict(zip(header, rec))
        try:
            check_record(cells)
        except CellError as exc:
            raise _row_error(path, line, header, exc) from None
        run_id = cells["run_id"]
        if run_id in first_line:
            raise _row_error(path, line, header, CellError(
                "run_id", f"run {run_id} is already recorded on line {first_line[run_id]}; a run has one "
                          f"row (keep the line that holds the run's result)"))
        first_line[run_id] = line


def read_runs(path: str | os.PathLike) -> tuple[pd.DataFrame, list[list[str]]]:
    """(the valid rows, the raw records with the wrong number of fields) of a runs CSV.

    A torn line (truncated, garbage, wrong field count) is set aside, never padded into the
    table. A whole line with a cell its writer would not write (frecore.reporting.schema), a run id
    recorded twice, or a header that is not a runs CSV's raises ResultsFileError naming the file,
    line and column: the caller stops and the file is left as it is."""
    path = Path(path)
    if not path.exists():
        return pd.DataFrame(columns=RUN_COLUMNS), []
    records: list[tuple[int, list[str]]] = []  # (the line the record starts on, its fields)
    try:
        with open(path, newline="", encoding="utf-8") as f:
            reader = csv.reader(f)
            start = 1
            for rec in reader:
                records.append((start, rec))
                start = reader.line_num + 1
    except (UnicodeDecodeError, csv.Error) as exc:
        where = f" (line {start})" if isinstance(exc, csv.Error) else ""
        raise ResultsFileError(f"{path} is not a readable CSV{where}: {exc}; correct that line or move the "
                               f"file aside to start afresh (the file was left as it is)") from None
    except OSError as exc:
        raise ResultsFileError(f"cannot read {path}: {exc.strerror or exc}; make it a readable file "
                               f"(or choose another --out-dir)") from None
    if not records:
        return pd.DataFrame(columns=RUN_COLUMNS), []
    header, body = records[0][1], records[1:]
    missing = [c for c in RUN_COLUMNS if c not in header and c not in OPTIONAL_COLUMNS]
    if missing:
        raise ResultsFileError(f"{path} is not a frecore runs CSV: its header lacks {', '.join(missing)}")
    whole = [(line, rec) for line, rec in body if rec and len(rec) == len(header)]
    bad = [rec for _, rec in body if rec and len(rec) != len(header)]  # torn lines: set aside, not errors
    _check_records(path, header, whole)
    good = [rec for _, rec in whole]
    df = pd.DataFrame(good, columns=header)
    df = df.reindex(columns=[*RUN_COLUMNS, *[c for c in header if c not in RUN_COLUMNS]])
    for c in INT_COLUMNS:
        df[c] = df[c].astype("int64")
    for c in FLOAT_COLUMNS:
        df[c] = pd.to_numeric(df[c].replace("", None), errors="coerce").astype("float64")
    for c in ("message", "probe_before", "git_commit", "reading"):
        df[c] = df[c].fillna("")
    return df, bad


OPTIONAL_COLUMNS = ("reading", "probe_before")  # added after the first results were recorded


def load_runs(path: str | os.PathLike) -> pd.DataFrame:
    """The valid rows of a runs CSV (damaged lines are reported on stderr and left out)."""
    runs, bad = read_runs(path)
    if bad:
        print(f"warning: {path}: {len(bad)} damaged line(s) left out (kept in {Path(path).name}.rejected "
              f"at the next write)", file=sys.stderr)
    return runs


class RunClaims:
    """One lock file per run being trained, held (flock) from the run's start until its row is
    recorded: sweeps in several processes on one folder skip each other's runs. The kernel drops
    a process's locks when it dies, so a killed sweep leaves no claim behind. (The files stay:
    removing a lock file while another process may open it would let two processes hold it.)"""

    def __init__(self, folder: Path):
        self.folder = folder
        self.held: dict[str, object] = {}

    def take(self, run_id: str) -> bool:
        if run_id in self.held:
            return True
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            handle = open(self.folder / f"{run_id}.lock", "a")
        except OSError as exc:
            raise ResultsFileError(f"cannot take the claim {self.folder / f'{run_id}.lock'} "
                                   f"({exc.strerror or exc}): {self.folder} must be a folder of plain lock "
                                   f"files; move the wrong one aside and rerun") from None
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            return False
        self.held[run_id] = handle
        return True

    def release(self, run_id: str) -> None:
        handle = self.held.pop(run_id, None)
        if handle is not None:
            fcntl.flock(handle, fcntl.LOCK_UN)
            handle.close()

    def release_all(self) -> None:
        for run_id in list(self.held):
            self.release(run_id)


def check_folder_layout(folder: Path, *csvs: Path) -> None:
    """Before any training: the store's own paths under `folder` (the claims and checkpoints
    folders, each CSV's lock file), where they exist, are of the right kind; one ResultsFileError
    naming the first that is not, instead of a traceback halfway through a sweep."""
    wrong = [(folder / name, "a folder") for name in (".claims", ".checkpoints") if (folder / name).exists()
             and not (folder / name).is_dir()]
    wrong += [(p.with_name(f".{p.name}.lock"), "a plain file") for p in csvs
              if p.with_name(f".{p.name}.lock").exists() and not p.with_name(f".{p.name}.lock").is_file()]
    wrong += [(p, "a plain file") for p in csvs if p.exists() and not p.is_file()]
    if wrong:
        path, kind = wrong[0]
        raise ResultsFileError(f"{path} must be {kind}, the results store's own; move it aside and rerun")


def clean_stale_temp_files(folder: Path) -> int:
    """Remove temp files left by writes that were killed (`.<name>.<random>.tmp`). Each is removed
    under its target's lock: a live writer holds that lock while its temp file exists."""
    removed = 0
    if not folder.is_dir():
        return 0
    for tmp in folder.glob(".*.tmp"):
        target = tmp.name[1:].rsplit(".", 2)[0]
        with locked(folder / target):
            if tmp.exists():
                tmp.unlink()
                removed += 1
    return removed


@contextmanager
def locked(path: Path) -> Iterator[None]:
    """An exclusive lock on `path` (a sidecar `.name.lock` file, flock) for one read-modify-write:
    processes that append to one results CSV at once take turns instead of losing rows."""
    lock = path.with_name(f".{path.name}.lock")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle = open(lock, "a")  # noqa: SIM115 (closed by the `with` below, once it is known to be open)
    except OSError as exc:
        raise ResultsFileError(f"cannot open the lock file {lock} ({exc.strerror or exc}): it must be a "
                               f"plain "
                               f"file in a writable folder; move the wrong one aside and rerun") from None
    with handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _atomic_write_csv(df: pd.DataFrame, path: Path) -> None:
    """Write whole or not at all; a file-system fault (a full disk, a read-only folder) is one
    ResultsFileError naming the file, with the old version left in place."""
    try:
        _write_then_rename(df, path)
    except OSError as exc:
        raise ResultsFileError(f"cannot write {path} ({exc.strerror or exc}); {path.name} is left as it was: "
                               f"free space or fix the folder's permissions (or choose another --out-dir), "
                               f"then rerun the same command") from None


def _write_then_rename(df: pd.DataFrame, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    mode = path.stat().st_mode & 0o777 if path.exists() else 0o666 & ~_umask()
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.chmod(tmp, mode)  # mkstemp makes 0600: keep the file's mode (or the umask's default)
        with os.fdopen(fd, "w", newline="") as f:
            df.to_csv(f, index=False)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)  # readers see the old file or the new one, never half of one
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def append_run(path: str | os.PathLike, record: dict, keep_finished: bool = False) -> bool:
    """Add one run's row, replacing an earlier row of the same run_id (a retried failure), or, with
    `keep_finished`, leaving a finished one (ok, diverged) as it is: False then, True when written.
    Holds the file's lock from read to rename, so concurrent sweeps on one folder lose no row. Damaged
    lines found on the way are moved, raw, to <name>.rejected rather than dropped unseen."""
    path = Path(path)
    # a bare carriage return (an exception's message) is written unquoted and would tear the line
    record = {k: v.replace("\r\n", "\n").replace("\r", "\n") if isinstance(v, str) else v
              for k, v in record.items()}
    with locked(path):
        runs, bad = read_runs(path)
        if bad:
            rejected = path.with_name(path.name + ".rejected")
            try:
                with open(rejected, "a", newline="", encoding="utf-8") as f:
                    csv.writer(f).writerows(bad)
            except OSError as exc:
                raise ResultsFileError(f"cannot write {rejected} ({exc.strerror or exc}); {path.name} is "
                                       f"left as it was: free space or fix that path, then rerun") from None
            print(f"warning: {path}: {len(bad)} damaged line(s) moved to {path.name}.rejected",
                  file=sys.stderr)
        same = runs["run_id"] == record["run_id"]
        if keep_finished and runs.loc[same, "status"].isin(FINAL_STATUSES).any():
            return False
        runs = runs[~same]
        new = pd.DataFrame([record], columns=RUN_COLUMNS)
        runs = new if runs.empty else pd.concat([runs, new], ignore_index=True)
        _atomic_write_csv(runs, path)
    return True


def finished_ids(path: str | os.PathLike) -> set[str]:
    runs = load_runs(path)
    return set(runs.loc[runs["status"].isin(FINAL_STATUSES), "run_id"])


def write_csv(table: pd.DataFrame, path: str | os.PathLike) -> None:
    """Write a whole table atomically (summaries, figure data), under the file's lock."""
    with locked(Path(path)):
        _atomic_write_csv(table, Path(path))
