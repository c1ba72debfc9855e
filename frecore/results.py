"""Results on disk: one row per finished run (atomic append, resume), summaries vs the paper."""
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
from typing import Iterator, Sequence

import pandas as pd
import torch

from frecore.config import ConfigError
from frecore.experiments import PlannedRun, Row
from frecore.train import RunResult

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
    return {
        "run_id": planned.run_id, "experiment": planned.experiment, "row": planned.row.label,
        "reading": planned.reading, "arch": planned.row.arch, "rule": cfg.rule.name, "seed": planned.seed, "profile": planned.profile,
        "epochs": cfg.optim.epochs, "epochs_run": len(h),
        "best_test_acc": result.best_test_acc if result else math.nan,
        "final_test_acc": result.final_test_acc if result else math.nan,
        "best_train_acc": result.best_train_acc if result else math.nan,
        "final_train_acc": h[-1].train_acc if h else math.nan,
        "wall_s": result.wall_s if result else math.nan,
        "epoch_s": sum(e.seconds for e in h) / len(h) if h else math.nan,
        "device": device_name(result.device if result else cfg.device),
        "torch": torch.__version__, "git_commit": commit or git_commit(),
        "status": status or (result.status if result else "failed"),
        "message": message or (result.message if result else ""),
        "config": json.dumps(cfg.to_dict(), sort_keys=True),
        "history": json.dumps(result.history_dicts() if result else []),
        "probe_before": json.dumps(result.probe_before if result else {}),
    }


class ResultsFileError(ConfigError):
    """A results or summary file that cannot be read as one (wrong header, not a CSV)."""


STATUSES = (*FINAL_STATUSES, "failed")
INT_COLUMNS = ("seed", "epochs", "epochs_run")
FLOAT_COLUMNS = ("best_test_acc", "final_test_acc", "best_train_acc", "final_train_acc", "wall_s", "epoch_s")


def _valid_record(rec: dict) -> bool:
    """A row as run_record writes it: a 12-hex run id, a known status, integer counts, numbers."""
    try:
        rec = {c: rec.get(c, "") for c in RUN_COLUMNS}
        int(rec["run_id"], 16)
        for c in INT_COLUMNS:
            int(rec[c])
        for c in FLOAT_COLUMNS:
            float(rec[c] or "nan")
        json.loads(rec["config"])
        json.loads(rec["history"] or "[]")
    except (ValueError, TypeError, KeyError):
        return False
    return len(rec["run_id"]) == 12 and rec["status"] in STATUSES


def read_runs(path: str | os.PathLike) -> tuple[pd.DataFrame, list[list[str]]]:
    """(the valid rows, the raw records that are not valid rows) of a runs CSV.

    A damaged line (truncated, garbage, wrong field count) is set aside, never padded into the
    table; a file whose header is not a runs CSV's raises ResultsFileError naming it."""
    path = Path(path)
    if not path.exists():
        return pd.DataFrame(columns=RUN_COLUMNS), []
    try:
        with open(path, newline="", encoding="utf-8") as f:
            records = list(csv.reader(f))
    except (UnicodeDecodeError, csv.Error) as exc:
        raise ResultsFileError(f"{path} is not a readable CSV ({exc}); move it aside to start afresh") from None
    if not records:
        return pd.DataFrame(columns=RUN_COLUMNS), []
    header, body = records[0], records[1:]
    missing = [c for c in RUN_COLUMNS if c not in header and c not in OPTIONAL_COLUMNS]
    if missing:
        raise ResultsFileError(f"{path} is not a frecore runs CSV: its header lacks {', '.join(missing)}")
    good, bad = [], []
    for rec in body:
        if rec:
            ok = len(rec) == len(header) and _valid_record(dict(zip(header, rec)))
            (good if ok else bad).append(rec)
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
        self.folder.mkdir(parents=True, exist_ok=True)
        handle = open(self.folder / f"{run_id}.lock", "a")
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
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_name(f".{path.name}.lock"), "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _atomic_write_csv(df: pd.DataFrame, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    mode = path.stat().st_mode & 0o777 if path.exists() else 0o666 & ~_umask()
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.chmod(tmp, mode)  # mkstemp makes 0600: keep the file's mode (or the umask's default)
    try:
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


def append_run(path: str | os.PathLike, record: dict) -> None:
    """Add one run's row, replacing an earlier row of the same run_id (a retried failure). Holds
    the file's lock from read to rename, so concurrent sweeps on one folder lose no row. Damaged
    lines found on the way are moved, raw, to <name>.rejected rather than dropped unseen."""
    path = Path(path)
    with locked(path):
        runs, bad = read_runs(path)
        if bad:
            with open(path.with_name(path.name + ".rejected"), "a", newline="", encoding="utf-8") as f:
                csv.writer(f).writerows(bad)
            print(f"warning: {path}: {len(bad)} damaged line(s) moved to {path.name}.rejected", file=sys.stderr)
        runs = runs[runs["run_id"] != record["run_id"]]
        new = pd.DataFrame([record], columns=RUN_COLUMNS)
        runs = new if runs.empty else pd.concat([runs, new], ignore_index=True)
        _atomic_write_csv(runs, path)


def finished_ids(path: str | os.PathLike) -> set[str]:
    runs = load_runs(path)
    return set(runs.loc[runs["status"].isin(FINAL_STATUSES), "run_id"])


def _mean(s: pd.Series) -> float:
    return float(s.mean()) if len(s) else math.nan


def _std(s: pd.Series) -> float:
    return float(s.std(ddof=1)) if len(s) > 1 else math.nan


def _probe_means(ok: pd.DataFrame) -> dict[str, float]:
    """Mean of each probe value over runs: before training and after the last epoch."""
    before = [json.loads(p) for p in ok.get("probe_before", pd.Series(dtype=str)).dropna() if p]
    after = [h[-1].get("probe", {}) for h in (json.loads(x) for x in ok["history"]) if h]
    out = {}
    for prefix, probes in (("before", before), ("after", after)):
        for key in sorted({k for p in probes for k in p}):
            out[f"{prefix}_{key}"] = _mean(pd.Series([p.get(key, math.nan) for p in probes], dtype=float))
    return out


def summarise(runs: pd.DataFrame, rows: Sequence[Row], profile: str,
              variants: Sequence[tuple[Row, str, set[str]]] = (), recorded: pd.DataFrame | None = None
              ) -> pd.DataFrame:
    """Per table row: ours (best-over-epochs and final) beside the paper's value (NaN if none).

    `runs` holds the default readings' runs; each (row, reading, run ids) of `variants` adds a line
    for that reading from `recorded` (all recorded runs), its approach marked "[reading]"."""
    out = []
    nan = math.nan
    lines = [(row, row.reading, runs[(runs["row"] == row.label) & (runs["profile"] == profile)], True)
             for row in rows]
    if variants:
        rec = runs if recorded is None else recorded
        lines += [(row, reading, rec[rec["run_id"].isin(ids) & (rec["profile"] == profile)], False)
                  for row, reading, ids in variants]
    for row, reading, r, default in lines:
        ok = r[r["status"] == "ok"]
        best_mean = _mean(ok["best_test_acc"])
        epoch_s = _mean(ok["epoch_s"])
        fractions = [json.loads(c)["optim"].get("epoch_fraction", 1.0) for c in ok["config"]]
        fraction = min(fractions) if fractions else 1.0
        full_epoch_s = epoch_s / fraction  # a partial epoch's time scaled to the whole epoch
        paper = row.paper
        out.append({
            "row": row.label, "arch": row.arch, "approach": row.approach if default else f"{row.approach} [{reading}]",
            "reading": reading, "default_reading": default, "profile": profile,
            "n": len(ok), "n_diverged": int((r["status"] == "diverged").sum()),
            "n_failed": int((r["status"] == "failed").sum()),
            "epochs": int(ok["epochs"].max()) if len(ok) else 0,
            "paper_epochs": row.config.optim.epochs,
            "best_test_mean": best_mean, "best_test_std": _std(ok["best_test_acc"]),
            "final_test_mean": _mean(ok["final_test_acc"]), "final_test_std": _std(ok["final_test_acc"]),
            "best_train_mean": _mean(ok["best_train_acc"]),
            "paper_test": paper.test_acc if paper else nan, "paper_std": paper.test_std if paper else nan,
            "paper_train": paper.train_acc if paper and paper.train_acc is not None else nan,
            "diff_vs_paper": best_mean - paper.test_acc if paper else nan,
            "wall_s_mean": _mean(ok["wall_s"]), "epoch_s_mean": epoch_s, "epoch_fraction": fraction,
            "full_epoch_s_mean": full_epoch_s,
            "extrapolated_paper_wall_s": full_epoch_s * row.config.optim.epochs,  # training only, paper's epochs
            "paper_wct_s": paper.wct_s if paper and paper.wct_s is not None else nan, "paper_protocol": paper.protocol if paper else "",
            "device": ", ".join(sorted(set(ok["device"]))) if len(ok) else "",
            "run_ids": " ".join(ok["run_id"]),
            **_probe_means(ok),
        })
    return pd.DataFrame(out)


def write_csv(table: pd.DataFrame, path: str | os.PathLike) -> None:
    """Write a whole table atomically (summaries, figure data), under the file's lock."""
    with locked(Path(path)):
        _atomic_write_csv(table, Path(path))


SUMMARY_COLUMNS = ("row", "arch", "approach", "profile", "n", "best_test_mean", "final_test_mean", "paper_test")


def load_summary(path: str | os.PathLike) -> pd.DataFrame | None:
    """A summary CSV, or None when it is missing or damaged (a truncated line, a lost column, a
    row without its label or count): a damaged summary is rebuilt, never printed as NaN rows."""
    path = Path(path)
    if not path.is_file():
        return None
    try:
        with open(path, newline="", encoding="utf-8") as f:
            records = [r for r in csv.reader(f) if r]
        if not records or any(len(r) != len(records[0]) for r in records):
            return None
        summary = pd.read_csv(path)
    except (OSError, UnicodeDecodeError, csv.Error, pd.errors.ParserError, pd.errors.EmptyDataError):
        return None
    if summary.empty or any(c not in summary for c in SUMMARY_COLUMNS):
        return None
    if summary["row"].isna().any() or summary["n"].isna().any():
        return None
    return summary


def format_mean_std(mean: float, std: float, missing: str = "not run") -> str:
    """'mean ± std', or the mean alone where no std exists (one run; a paper value given without one)."""
    if math.isnan(mean):
        return missing
    return f"{mean:.2f}" + ("" if math.isnan(std) else f" ± {std:.2f}")


def _hms(seconds: float | None) -> str:
    if seconds is None or math.isnan(seconds):
        return "-"
    s = int(round(seconds))
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}"


def markdown_table(summary: pd.DataFrame) -> str:
    """The README table: ours (best and final) beside the paper, with times and any probe values."""
    probes = [c for c in summary.columns if c.startswith(("before_", "after_"))]
    authors = "authors_same_epochs" in summary and summary["authors_same_epochs"].notna().any()
    lines = [
        "| Arch | Approach | Ours best (%) | Ours final (%) | Paper (%) | Δ best vs paper | Train best: ours / paper (%) "
        + ("| Authors' code, same epochs (%) " if authors else "")
        + "| n | epochs (ours/paper) | Ours time/run | Ours time/epoch | Ours full run (extrapolated) | Paper WCT "
        "| Device |" + "".join(f" {c.replace('_', ' ')} |" for c in probes),
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|" + "---|" * (len(probes) + authors),
    ]
    for _, s in summary.iterrows():
        diff = "-" if math.isnan(s["diff_vs_paper"]) else f"{s['diff_vs_paper']:+.2f}"
        n = f"{s['n']}" + (f" (+{s['n_diverged']} diverged)" if s["n_diverged"] else "")
        paper = format_mean_std(s["paper_test"], s["paper_std"], missing="-")
        fraction = s.get("epoch_fraction", 1.0)
        fraction = 1.0 if fraction is None or math.isnan(fraction) else fraction
        epochs = f"{s['epochs']}" if fraction >= 1.0 else f"{fraction:g} of {s['epochs']}"
        full_epoch = s.get("full_epoch_s_mean", s["epoch_s_mean"])
        note = s.get("note", "")
        missing = note if isinstance(note, str) and note else "not run"
        lines.append(
            f"| {s['arch']} | {s['approach']} | {format_mean_std(s['best_test_mean'], s['best_test_std'], missing)} "
            f"| {format_mean_std(s['final_test_mean'], s['final_test_std'])} | {paper} "
            f"| {diff} | {format_mean_std(s['best_train_mean'], math.nan)} / {format_mean_std(s['paper_train'], math.nan).replace('not run', '-')} "
            + (f"| {format_mean_std(s['authors_same_epochs'], math.nan, missing='-')} " if authors else "")
            + f"| {n} | {epochs}/{s['paper_epochs']} | {_hms(s['wall_s_mean'])} | {_hms(full_epoch)} "
            f"| {_hms(s['extrapolated_paper_wall_s'])} | {_hms(s['paper_wct_s'])} | {s['device'] if isinstance(s.get('device'), str) and s['device'] else '-'} |"
            + "".join(f" {s[c]:.3g} |" for c in probes))
    return "\n".join(lines)


def headline_table(summary: pd.DataFrame) -> str:
    """The README's short table: each row's default reading, ours (best, final) beside the authors'
    code at the same epochs and the paper's 5-run mean."""
    lines = ["| Arch | Approach | Reading | Ours best (%) | Ours final (%) | Authors' code, same epochs (%) | Paper (%) "
             "| epochs (ours/paper) | n |", "|---|---|---|---|---|---|---|---|---|"]
    default = summary["default_reading"].astype(bool) if "default_reading" in summary else pd.Series(True, summary.index)
    for _, s in summary[default].iterrows():
        fraction = s.get("epoch_fraction", 1.0)
        epochs = f"{s['epochs']}" if not fraction or fraction >= 1.0 or math.isnan(fraction) else f"{fraction:g} of {s['epochs']}"
        lines.append(
            f"| {s['arch']} | {s['approach']} | {s.get('reading', '')} "
            f"| {format_mean_std(s['best_test_mean'], s['best_test_std'])} "
            f"| {format_mean_std(s['final_test_mean'], s['final_test_std'])} "
            f"| {format_mean_std(s.get('authors_same_epochs', math.nan), math.nan, missing='-')} "
            f"| {format_mean_std(s['paper_test'], s['paper_std'], missing='-')} | {epochs}/{s['paper_epochs']} | {s['n']} |")
    return "\n".join(lines)


def results_page(experiment: str, summary: pd.DataFrame, summary_csv: str, title: str) -> str:
    """docs/results/<experiment>.md: the whole summary (every reading) and the plot, regenerated by make."""
    profiles = ", ".join(f"`{p}`" for p in sorted(set(summary["profile"])))
    return "\n".join([
        f"# {title}", "",
        f"Generated by `python -m frecore report {experiment} --page docs/results/{experiment}.md` (run by "
        f"`make {experiment}`) from `{summary_csv}`; profile {profiles}. Do not edit by hand.", "",
        "Best test accuracy over epochs (the paper's protocol) and final-epoch accuracy, mean ± std (ddof=1) over "
        "seeds. A row's default reading is what produced the paper's number; lines marked `[text]` or `[code]` are "
        "the other reading, where it was run ([settings provenance](../provenance.md)). \"Authors' code, same "
        "epochs\" is the mean over the authors' printed runs of their best test accuracy within our number of "
        "epochs. Readings of these numbers: [docs/readings.md](../readings.md).", "",
        markdown_table(summary), "",
        f"![{experiment}](../../results/{experiment}.png)", ""])


def update_readme_block(readme: str | os.PathLike, name: str, text: str) -> None:
    """Replace the text between <!-- name:start --> and <!-- name:end --> in the README."""
    path = Path(readme)
    content = path.read_text()
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    if start not in content or end not in content:
        raise ValueError(f"{path} has no {start} ... {end} block")
    head, rest = content.split(start, 1)
    _, tail = rest.split(end, 1)
    path.write_text(f"{head}{start}\n{text}\n{end}{tail}")


def reading_lines(summary: pd.DataFrame, variant: str | None = None) -> pd.DataFrame:
    """One summary line per row, indexed by row label: the `variant` reading's line where the row
    has one, else its default line (what a notebook's checks should read)."""
    if "default_reading" not in summary:
        return summary.set_index("row")
    default = summary["default_reading"].astype(bool)
    lines = summary[default].set_index("row")
    if variant not in (None, "default"):
        chosen = summary[~default & (summary["reading"] == variant)].set_index("row")
        lines = pd.concat([chosen, lines[~lines.index.isin(chosen.index)]]).reindex(lines.index)
    return lines
