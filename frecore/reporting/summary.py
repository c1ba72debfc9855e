"""Per-row statistics of recorded runs beside the paper's values: the summaries behind every table."""
from __future__ import annotations

import csv
import json
import math
import os
from pathlib import Path
from typing import Sequence

import pandas as pd

from frecore.experiments import Row


def _mean(s: pd.Series) -> float:
    return float(s.mean()) if len(s) else math.nan


def _std(s: pd.Series) -> float:
    return float(s.std(ddof=1)) if len(s) > 1 else math.nan


def _probe_means(ok: pd.DataFrame) -> dict[str, float]:
    """Mean of each scalar probe value over runs: before training and after the last epoch (a list,
    such as the per-neuron error, is drawn from the histories, not summarised)."""
    before = [json.loads(p) for p in ok.get("probe_before", pd.Series(dtype=str)).dropna() if p]
    after = [h[-1].get("probe", {}) for h in (json.loads(x) for x in ok["history"]) if h]
    out = {}
    for prefix, probes in (("before", before), ("after", after)):
        for key in sorted({k for p in probes for k, v in p.items() if not isinstance(v, list)}):
            out[f"{prefix}_{key}"] = _mean(pd.Series([p.get(key, math.nan) for p in probes], dtype=float))
    return out


def _step_means(ok: pd.DataFrame) -> dict[str, float]:
    """Mean free and nudged steps per batch over every epoch of every run, where a tolerance stopped
    the phases (EpochRecord.steps); nothing for fixed-step runs, whose steps are their T and K."""
    epochs = [e.get("steps", {}) for h in (json.loads(x) for x in ok["history"]) for e in h]
    return {f"{phase}_steps_mean": _mean(pd.Series([e[phase] for e in epochs if phase in e], dtype=float))
            for phase in ("free", "nudged") if any(phase in e for e in epochs)}


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
            **row.coords,
            "row": row.label, "arch": row.arch,
            "approach": row.approach if default else f"{row.approach} [{reading}]",
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
            # training only, paper's epochs
            "extrapolated_paper_wall_s": full_epoch_s * row.config.optim.epochs,
            "paper_wct_s": paper.wct_s if paper and paper.wct_s is not None else nan,
            "paper_protocol": paper.protocol if paper else "",
            "device": ", ".join(sorted(set(ok["device"]))) if len(ok) else "",
            "run_ids": " ".join(ok["run_id"]),
            **_probe_means(ok), **_step_means(ok),
        })
    return pd.DataFrame(out)


SUMMARY_COLUMNS = ("row", "arch", "approach", "profile", "n", "best_test_mean", "final_test_mean",
                   "paper_test")


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
        summary = pd.read_csv(path, dtype={"row": str, "arch": str, "approach": str})  # "1", not 1.0
    except (OSError, UnicodeDecodeError, csv.Error, pd.errors.ParserError, pd.errors.EmptyDataError):
        return None
    if summary.empty or any(c not in summary for c in SUMMARY_COLUMNS):
        return None
    if summary["row"].isna().any() or summary["n"].isna().any():
        return None
    if summary.select_dtypes("number").isin([math.inf, -math.inf]).any().any():  # rebuilt, never printed
        return None
    return summary


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
