"""Summaries as markdown: the full table, the README's headline, an experiment's page, README blocks."""
from __future__ import annotations

import math
import os
from collections.abc import Sequence
from pathlib import Path

import pandas as pd


def format_mean_std(mean: float, std: float, missing: str = "not run") -> str:
    """'mean ± std', or the mean alone where no std exists (one run; a paper value given without one)."""
    if not _finite(mean):  # never printed as nan or inf
        return missing
    return f"{mean:.2f}" + ("" if not _finite(std) else f" ± {std:.2f}")


def _finite(x: object) -> bool:
    """A number worth printing: not None, text, nan or inf (a damaged summary's cells)."""
    try:
        return math.isfinite(float(x))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return False


def _hms(seconds: float | None) -> str:
    if not _finite(seconds):
        return "-"
    s = int(round(seconds))
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}"


PROTOCOL_COLUMNS = ("protocol_best_mean", "protocol_best_std", "protocol_final_mean", "protocol_final_std",
                    "protocol_n", "protocol_epochs")


def with_protocol(summary: pd.DataFrame, protocol: pd.DataFrame | None) -> pd.DataFrame:
    """The summary with each line's paper-profile numbers beside it (same row and reading), from the
    paper profile's summary (the campaign's runs); unchanged when there is none."""
    if protocol is None or protocol.empty or "reading" not in summary or "reading" not in protocol:
        return summary
    p = protocol[protocol["n"] > 0].rename(columns={
        "best_test_mean": "protocol_best_mean", "best_test_std": "protocol_best_std",
        "final_test_mean": "protocol_final_mean", "final_test_std": "protocol_final_std",
        "n": "protocol_n", "epochs": "protocol_epochs"})[["row", "reading", *PROTOCOL_COLUMNS]]
    if p.empty:
        return summary
    return summary.drop(columns=[c
                                 for c in PROTOCOL_COLUMNS if c in summary]).merge(
                                         p, on=["row", "reading"], how="left")


def _protocol_cell(s: pd.Series) -> str:
    """'best / final (n, epochs)' at the paper's protocol, '-' where the campaign has not run the line."""
    n = s.get("protocol_n", math.nan)
    if n is None or (isinstance(n, float) and math.isnan(n)) or not n:
        return "-"
    return (f"{format_mean_std(s['protocol_best_mean'], s['protocol_best_std'])} / "
            f"{format_mean_std(s['protocol_final_mean'], s['protocol_final_std'])} (n={int(n)}, "
            f"{int(s['protocol_epochs'])} ep)")


def _signed(x: object) -> str:
    return f"{float(x):+.2f}" if _finite(x) else "-"  # type: ignore[arg-type]


def has_paper_numbers(summary: pd.DataFrame) -> bool:
    """Whether the paper prints a number (test, train or time) for any of these rows."""
    return any(_finite(v) for c in ("paper_test", "paper_train", "paper_wct_s") if c in summary
               for v in summary[c])


def markdown_table(summary: pd.DataFrame) -> str:
    """The README table: ours (best and final) beside the paper, with times and any probe values.
    Columns that no row fills are left out: the authors' code and the protocol where nothing was
    run, the paper's where it gives no number (the studies beyond it)."""
    probes = [c for c in summary.columns if c.startswith(("before_", "after_")) or c.endswith("_steps_mean")]
    authors = "authors_same_epochs" in summary and summary["authors_same_epochs"].notna().any()
    protocol = "protocol_n" in summary and summary["protocol_n"].notna().any()
    paper = has_paper_numbers(summary)

    def _epochs(s: pd.Series) -> str:
        fraction = s.get("epoch_fraction", 1.0)
        fraction = 1.0 if fraction is None or math.isnan(fraction) else fraction
        ours = f"{s['epochs']}" if fraction >= 1.0 else f"{fraction:g} of {s['epochs']}"
        return f"{ours}/{s['paper_epochs']}"

    def _best(s: pd.Series) -> str:
        note = s.get("note", "")
        return format_mean_std(s["best_test_mean"], s["best_test_std"],
                               note if isinstance(note, str) and note else "not run")

    def _train(s: pd.Series) -> str:
        ours = format_mean_std(s["best_train_mean"], math.nan)
        theirs = format_mean_std(s["paper_train"], math.nan).replace("not run", "-")
        return f"{ours} / {theirs}" if paper else ours

    columns = [
        ("Arch", lambda s: f"{s['arch']}"), ("Approach", lambda s: f"{s['approach']}"),
        ("Ours best (%)", _best),
        ("Ours final (%)", lambda s: format_mean_std(s["final_test_mean"], s["final_test_std"])),
        *([("Paper (%)", lambda s: format_mean_std(s["paper_test"], s["paper_std"], missing="-")),
           ("Δ best vs paper", lambda s: _signed(s["diff_vs_paper"]))] if paper else []),
        ("Train best: ours / paper (%)" if paper else "Train best (%)", _train),
        *([("Authors' code, same epochs (%)",
            lambda s: format_mean_std(s["authors_same_epochs"], math.nan, missing="-"))] if authors else []),
        *([("Ours at the paper's protocol: best / final (%)", _protocol_cell)] if protocol else []),
        ("n", lambda s: f"{s['n']}" + (f" (+{s['n_diverged']} diverged)" if s["n_diverged"] else "")),
        ("epochs (ours/paper)", _epochs),
        ("Ours time/run", lambda s: _hms(s["wall_s_mean"])),
        ("Ours time/epoch", lambda s: _hms(s.get("full_epoch_s_mean", s["epoch_s_mean"]))),
        ("Ours full run (extrapolated)", lambda s: _hms(s["extrapolated_paper_wall_s"])),
        *([("Paper WCT", lambda s: _hms(s["paper_wct_s"]))] if paper else []),
        ("Device", lambda s: s["device"] if isinstance(s.get("device"), str) and s["device"] else "-"),
        *((c.replace("_", " "), lambda s, c=c: f"{s[c]:.3g}" if _finite(s[c]) else "-") for c in probes),
    ]
    lines = ["| " + " | ".join(h for h, _ in columns) + " |", "|---" * len(columns) + "|"]
    lines += ["| " + " | ".join(cell(s) for _, cell in columns) + " |" for _, s in summary.iterrows()]
    return "\n".join(lines)


def headline_table(summary: pd.DataFrame) -> str:
    """The README's short table: each row's default reading, ours (best, final) beside the authors'
    code at the same epochs and the paper's 5-run mean."""
    protocol = "protocol_n" in summary and summary["protocol_n"].notna().any()
    lines = ["| Arch | Approach | Reading | Ours best (%) | Ours final (%) | Authors' code, same epochs (%) "
             "| Paper (%) | epochs (ours/paper) | n |"
             + (" Ours at the paper's protocol: best / final (%) |" if protocol else ""),
             "|---|---|---|---|---|---|---|---|---|" + ("---|" if protocol else "")]
    default = (summary["default_reading"].astype(bool) if "default_reading" in summary
               else pd.Series(True, summary.index))
    for _, s in summary[default].iterrows():
        fraction = s.get("epoch_fraction", 1.0)
        whole = not fraction or fraction >= 1.0 or math.isnan(fraction)
        epochs = f"{s['epochs']}" if whole else f"{fraction:g} of {s['epochs']}"
        lines.append(
            f"| {s['arch']} | {s['approach']} | {s.get('reading', '')} | "
            f"{format_mean_std(s['best_test_mean'], s['best_test_std'])} | "
            f"{format_mean_std(s['final_test_mean'], s['final_test_std'])} | "
            f"{format_mean_std(s.get('authors_same_epochs', math.nan), math.nan, missing='-')} | "
            f"{format_mean_std(s['paper_test'], s['paper_std'], missing='-')} | {epochs}/{s['paper_epochs']} "
            f"| {s['n']} |"
            + (f" {_protocol_cell(s)} |" if protocol else ""))
    return "\n".join(lines)


def results_page(experiment: str, summary: pd.DataFrame, summary_csv: str, title: str,
                 claims: Sequence[str] = (), profile: str = "quick", page: str | None = None) -> str:
    """docs/results/<experiment>.md: the whole summary (every reading), the plot and, for a figure
    whose claims are checked, one line per claim (holds / does not hold / not enough epochs /
    not measured, with our numbers); regenerated by make."""
    profiles = ", ".join(f"`{p}`" for p in sorted(set(summary["profile"])))
    option = f" --profile {profile}" if profile != "quick" else ""
    page = page or f"docs/results/{experiment}.md"
    target = "campaign" if profile == "paper" else experiment
    return "\n".join([
        f"# {title}", "",
        f"Generated by `python -m frecore report {experiment}{option} --page {page}` (run by "
        f"`make {target}`) from `{summary_csv}`; profile {profiles}. Do not edit by hand.", "",
        "Best test accuracy over epochs (the paper's protocol) and final-epoch accuracy, mean ± std (ddof=1) "
        "over seeds. A row's default reading is what produced the paper's number; lines marked `[text]` or "
        "`[code]` are the other reading, where it was run ([settings provenance](../provenance.md)). "
        "\"Authors' code, same epochs\" is the mean over the authors' printed runs of their best test "
        "accuracy within our number of epochs. \"Ours at the paper's protocol\" is the paper profile (the "
        "paper's epochs; n seeds so far), trained by the campaign (`make campaign`, "
        "[docs/campaign.md](../campaign.md)). Readings of these numbers: [docs/readings.md](../readings.md)."
        + ("" if has_paper_numbers(summary) else " The paper prints no number for any of these rows (it "
           "draws them in a figure, or the study goes beyond it), so the table has no paper columns."),
        "",
        markdown_table(summary), "",
        f"![{experiment}](../../results/{experiment}.png)", "",
        *(["## The figure's claims, checked on these runs", "", *(f"- {c}"
                                                                  for c in claims), ""] if claims else [])])


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
