"""Figures, drawn from results files only (so a plot can always be redrawn without training)."""
from __future__ import annotations

import json
import os
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # headless: papermill, CI
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402


def _save(fig: "plt.Figure", out_png: str | os.PathLike, dpi: int = 120) -> Path:
    fig.tight_layout()
    out = Path(out_png)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=dpi)
    plt.close(fig)
    return out


def _line_runs(runs: pd.DataFrame, line: pd.Series) -> pd.DataFrame:
    """The runs behind one summary line (a row in one reading)."""
    return runs[runs["run_id"].isin(str(line.get("run_ids", "") or "").split())]


def _authors_mean_curve(experiment: str, label: str, epochs: int) -> np.ndarray | None:
    """The authors' printed test curve for a row, mean over their runs, first `epochs` epochs."""
    from frecore.reporting.authors import curves_for

    curves = [c.test_acc[:epochs] for c in curves_for(experiment, label) if len(c.test_acc) >= epochs]
    return np.array(curves).mean(0) if curves else None


def _runs(runs_csv: str | os.PathLike | list, summary: pd.DataFrame) -> pd.DataFrame:
    """The runs the summary was computed from (its `run_ids`), so stale rows never leak in; `runs_csv`
    may be a list (a figure sharing runs several experiments record)."""
    from frecore.reporting.store import load_runs

    paths = runs_csv if isinstance(runs_csv, list) else [runs_csv]
    runs = pd.concat([load_runs(p)
                      for p in paths], ignore_index=True) if len(paths) > 1 else load_runs(paths[0])
    ids = {i for cell in summary["run_ids"] if isinstance(cell, str) for i in cell.split()}
    return runs[runs["run_id"].isin(ids)]


def accuracy_curves(runs_csv: str | os.PathLike, summary_csv: str | os.PathLike, out_png: str | os.PathLike,
                    profile: str, experiment: str) -> Path:
    """Test accuracy vs epoch per table row and reading (mean over seeds, band = min..max), the
    paper's value dashed, and the authors' printed curve (mean of their runs, dotted, 'x') over the
    epochs we ran: epoch by epoch, whether we track the code that made the paper."""
    summary = pd.read_csv(summary_csv)
    runs = _runs(runs_csv, summary)
    archs = list(dict.fromkeys(summary["arch"]))
    fig, axes = plt.subplots(1, len(archs), figsize=(6 * len(archs), 4.2), squeeze=False)
    for ax, arch in zip(axes[0], archs):
        for k, (_, s) in enumerate(summary[summary["arch"] == arch].iterrows()):
            color = f"C{k}"
            default = bool(s.get("default_reading", True))
            curves = [[e["test_acc"] for e in json.loads(h)] for h in _line_runs(runs, s)["history"]]
            if curves:
                n = min(len(c) for c in curves)
                acc = np.array([c[:n] for c in curves])
                epochs = np.arange(1, n + 1)
                ax.plot(epochs, acc.mean(0), color=color, marker="o" if default else "^", ms=3,
                        ls="-" if default else "-.", label=f"{s['approach']} (ours, n={len(curves)})")
                ax.fill_between(epochs, acc.min(0), acc.max(0), color=color, alpha=0.2)
                theirs = _authors_mean_curve(experiment, s["row"], n) if default else None
                if theirs is not None:
                    ax.plot(epochs, theirs, color=color, marker="x", ls=":",
                            label=f"{s['approach']} (authors' code)")
            # a row without a paper value (a new table) has no line
            if default and not np.isnan(s["paper_test"]):
                ax.axhline(s["paper_test"], color=color, ls="--", lw=1, label=f"{s['approach']} (paper)")
        ax.set_title(f"{experiment}: {arch} ({profile} profile)")
        ax.set_xlabel("epoch")
        ax.set_ylabel("test accuracy (%)")
        rows = summary[summary["arch"] == arch]
        # every row, ours too
        lo = np.nanmin([rows["paper_test"].min() - 3, rows["best_test_mean"].min() - 4])
        ax.set_ylim(0 if np.isnan(lo) else max(lo, 0), 100)
        ax.xaxis.get_major_locator().set_params(integer=True)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, loc="lower right")
    return _save(fig, out_png, dpi=120)


DYNAMICS_PANELS = (  # (probe key, axis label) of Figure 5's panels b-d
    ("spectral_radius", "spectral radius"),
    ("ftmle", "FTMLE (free phase)"),
    ("convergence_time", "convergence time (steps)"),
)


def dynamics_vs_beta(runs_csv: str | os.PathLike, summary_csv: str | os.PathLike, out_png: str | os.PathLike,
                     profile: str, experiment: str) -> Path:
    """Figure 5: test error, spectral radius, FTMLE and convergence time vs beta_i, before
    (dashed) and after (solid) training; means over seeds from the summary."""
    s = pd.read_csv(summary_csv)
    beta = s["beta_i"]
    fig, axes = plt.subplots(1, 4, figsize=(17, 3.8))
    axes[0].plot(beta, 100 - s["best_test_mean"], "o-", label="after training (best epoch)")
    axes[0].plot(beta, 100 - s["final_test_mean"], "s:", label="after training (final epoch)")
    axes[0].set_ylabel("test error (%)")
    axes[0].set_yscale("log")
    for ax, (key, label) in zip(axes[1:], DYNAMICS_PANELS):
        for prefix, style in (("before", "o--"), ("after", "o-")):
            col = f"{prefix}_{key}"
            if col in s:
                ax.plot(beta, s[col], style, label=f"{prefix} training")
        ax.set_ylabel(label)
    for ax in axes:
        ax.set_xscale("log")
        ax.set_xlabel("feedback scaling beta_i")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.suptitle(f"{experiment}: {s['arch'].iloc[0]} ({profile} profile; missing points: not settled within "
                 f"500 steps)")
    return _save(fig, out_png, dpi=120)


def error_curves(runs_csv: str | os.PathLike, summary_csv: str | os.PathLike, out_png: str | os.PathLike,
                 profile: str, experiment: str) -> Path:
    """Test error vs epoch, one panel per `arch`, one line per `approach`: mean over seeds, band
    min..max (Figure 6)."""
    summary = pd.read_csv(summary_csv)
    runs = _runs(runs_csv, summary)
    panels = list(dict.fromkeys(summary["arch"]))
    ncol = min(4, len(panels))
    nrow = -(-len(panels) // ncol)
    fig, axes = plt.subplots(nrow, ncol, figsize=(4.2 * ncol, 3.3 * nrow), squeeze=False)
    for ax, panel in zip(axes.flat, panels):
        for k, (_, s) in enumerate(summary[summary["arch"] == panel].iterrows()):
            curves = [[100 - e["test_acc"] for e in json.loads(h)] for h in _line_runs(runs, s)["history"]]
            if not curves:
                continue
            n = min(len(c) for c in curves)
            err = np.array([c[:n] for c in curves])
            epochs = np.arange(1, n + 1)
            ax.plot(epochs, err.mean(0), "o-", ms=3, color=f"C{k}", label=s["approach"])
            ax.fill_between(epochs, err.min(0), err.max(0), color=f"C{k}", alpha=0.2)
        ax.set_yscale("log")
        ax.set_title(panel, fontsize=9)
        ax.set_xlabel("epoch")
        ax.set_ylabel("test error (%)")
        ax.grid(alpha=0.3, which="both")
        if ax.get_legend_handles_labels()[0]:  # a panel whose runs all diverged has no lines
            ax.legend(fontsize=6)
    for ax in list(axes.flat)[len(panels):]:
        ax.axis("off")
    fig.suptitle(f"{experiment} ({profile} profile)")
    return _save(fig, out_png, dpi=110)


def _heatmaps(runs_csv, summary_csv, out_png, profile, experiment, x: tuple[str, str], y: tuple[str, str],
              xlabel: str, ylabel: str) -> Path:
    """Best test accuracy (mean over seeds) over two config settings, one panel per `arch`.
    `x` and `y` name a setting as (section, field) of the run config, e.g. ("net", "beta")."""
    summary = pd.read_csv(summary_csv)
    runs = _runs(runs_csv, summary).copy()
    cfgs = runs["config"].map(json.loads)

    def first(v):
        return v[0] if isinstance(v, list) else v

    runs["x"] = cfgs.map(lambda c: first(c[x[0]][x[1]]))
    runs["y"] = cfgs.map(lambda c: first(c[y[0]][y[1]]))
    archs = list(dict.fromkeys(summary["arch"]))
    fig, axes = plt.subplots(1, len(archs), figsize=(4.6 * len(archs), 4), squeeze=False)
    for ax, arch in zip(axes[0], archs):
        grid = runs[runs["arch"] == arch].pivot_table(index="y", columns="x", values="best_test_acc")
        if grid.empty:
            ax.axis("off")
            continue
        im = ax.imshow(grid.values, cmap="viridis", vmin=max(0.0, float(np.nanmin(grid.values))), vmax=100,
                       origin="lower")
        for (i, j), v in np.ndenumerate(grid.values):
            ax.text(j, i, f"{v:.1f}", ha="center", va="center", fontsize=7, color="w" if v < 90 else "k")
        ax.set_xticks(range(grid.shape[1]), [f"{v:g}" for v in grid.columns])
        ax.set_yticks(range(grid.shape[0]), [f"{v:g}" for v in grid.index])
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        ax.set_title(f"{arch}: best test accuracy (%)")
        fig.colorbar(im, ax=ax, fraction=0.046)
    fig.suptitle(f"{experiment} ({profile} profile)")
    return _save(fig, out_png, dpi=110)


def alpha_beta_heatmaps(runs_csv, summary_csv, out_png, profile: str, experiment: str) -> Path:
    """Figure 4: accuracy over feedforward scaling alpha_i (rows) x feedback scaling beta_i (columns)."""
    return _heatmaps(runs_csv, summary_csv, out_png, profile, experiment, ("net", "beta"), ("net", "alpha"),
                     "feedback scaling beta_i", "feedforward scaling alpha_i")


def noise_heatmaps(runs_csv, summary_csv, out_png, profile: str, experiment: str) -> Path:
    """Figures S12-S13: accuracy over state-noise std (columns) x weight-noise std (rows)."""
    return _heatmaps(runs_csv, summary_csv, out_png, profile, experiment, ("noise", "state_std"),
                     ("noise", "weight_std"), "state noise std", "weight noise std")


def accuracy_vs_trained_layers(runs_csv: str | os.PathLike, summary_csv: str | os.PathLike,
                               out_png: str | os.PathLike, profile: str, experiment: str) -> Path:
    """Figure S11: best test accuracy vs the number of trained (last) weight matrices, one line
    per panel label, mean over seeds with min..max error bars."""
    summary = pd.read_csv(summary_csv)
    runs = _runs(runs_csv, summary)
    fig, ax = plt.subplots(figsize=(5.5, 4))
    for k, (panel, g) in enumerate(summary.groupby("arch", sort=False)):
        n = g["n_ll"].astype(int)
        lo = np.array([runs.loc[runs["row"] == r, "best_test_acc"].min() for r in g["row"]])
        hi = np.array([runs.loc[runs["row"] == r, "best_test_acc"].max() for r in g["row"]])
        mean = g["best_test_mean"].to_numpy()
        ax.errorbar(n, mean, yerr=[mean - lo, hi - mean], fmt="o-", color=f"C{k}", capsize=3, label=panel)
    ax.set_xlabel("n_ll: trained weight matrices, counted from the readout")
    ax.set_ylabel("best test accuracy (%)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title(f"{experiment} ({profile} profile)")
    return _save(fig, out_png, dpi=120)


def grouped_bars(runs_csv: str | os.PathLike, summary_csv: str | os.PathLike, out_png: str | os.PathLike,
                 profile: str, experiment: str) -> Path:
    """Table 2: best test accuracy per architecture (groups) and approach (bars), ours beside the
    paper's (hatched) and the authors' printed runs at our number of epochs (x); one panel per
    dataset. Rows that did not run show no bar."""
    s = pd.read_csv(summary_csv)
    s["dataset"] = s["arch"].str.extract(r"\((.*)\)$")[0].fillna("")
    datasets = list(dict.fromkeys(s["dataset"]))
    width = max(8.0, 0.5 * max(int((s["dataset"] == ds).sum()) for ds in datasets))
    fig, axes = plt.subplots(1, len(datasets), figsize=(width * len(datasets), 4.8), squeeze=False)
    for ax, ds in zip(axes[0], datasets):
        d = s[s["dataset"] == ds].reset_index(drop=True)
        x = np.arange(len(d))
        ax.bar(x - 0.2, d["best_test_mean"], 0.4, yerr=d["best_test_std"].fillna(0),
               label="ours (best epoch)")
        ax.bar(x + 0.2, d["paper_test"], 0.4, hatch="//", alpha=0.5, label="paper")
        if "authors_same_epochs" in d and d["authors_same_epochs"].notna().any():
            ax.plot(x - 0.2, d["authors_same_epochs"], "kx", ms=7,
                    label="authors' code, best within our epochs")
        ax.set_xticks(x, [f"{a.split(' (')[0]} {b}" for a, b in zip(d["arch"], d["approach"])], fontsize=7,
                      rotation=50, ha="right")
        finite = pd.concat([d["best_test_mean"], d["paper_test"]]).dropna()
        ax.set_ylim(max(0, finite.min() - 5) if len(finite) else 0, 100)
        ax.set_ylabel("test accuracy (%)")
        ax.set_title(f"{experiment} {ds} ({profile} profile)")
        ax.grid(alpha=0.3, axis="y")
        ax.legend(fontsize=7)
    return _save(fig, out_png)


def beta_heatmap(runs_csv: str | os.PathLike, summary_csv: str | os.PathLike, out_png: str | os.PathLike,
                 profile: str, experiment: str) -> Path:
    """Table S1: accuracy over architecture (rows) x beta_i (columns), ours and the paper's side by side
    (each cell's default reading)."""
    s = pd.read_csv(summary_csv)
    if "default_reading" in s:
        s = s[s["default_reading"].astype(bool)]
    archs = list(dict.fromkeys(s["arch"]))
    betas = sorted(set(s["beta_i"]))
    fig, axes = plt.subplots(1, 2, figsize=(14, 0.45 * len(archs) + 2))
    panels = ((axes[0], "best_test_mean", "ours (best epoch)"), (axes[1], "paper_test", "paper"))
    for ax, col, title in panels:
        grid = np.full((len(archs), len(betas)), np.nan)
        for _, r in s.iterrows():
            grid[archs.index(r["arch"]), betas.index(r["beta_i"])] = r[col]
        im = ax.imshow(grid, vmin=10, vmax=100, cmap="viridis", aspect="auto")
        for i in range(len(archs)):
            for j in range(len(betas)):
                if not np.isnan(grid[i, j]):
                    ax.text(j, i, f"{grid[i, j]:.1f}", ha="center", va="center", fontsize=7,
                            color="white" if grid[i, j] < 60 else "black")
        ax.set_xticks(range(len(betas)), [f"{b:g}" for b in betas])
        ax.set_yticks(range(len(archs)), archs)
        ax.set_xlabel("beta_i")
        ax.set_title(f"{experiment}: {title} ({profile} profile)" if col == "best_test_mean" else title)
    fig.colorbar(im, ax=axes, label="test accuracy (%)", shrink=0.8)
    out = Path(out_png)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=120, bbox_inches="tight")
    plt.close(fig)
    return out


def accuracy_vs_p(runs_csv: str | os.PathLike, summary_csv: str | os.PathLike, out_png: str | os.PathLike,
                  profile: str, experiment: str) -> Path:
    """Figure S8: best and final test accuracy vs the AGT connection probability P (mean, min..max)."""
    from frecore.reporting.authors import curves_for

    summary = pd.read_csv(summary_csv)
    runs = _runs(runs_csv, summary)
    if "reading" not in summary:
        summary["reading"], summary["default_reading"] = "", True
    fig, ax = plt.subplots(figsize=(6, 4))
    for k, (default, s) in enumerate(summary.groupby(summary["default_reading"].astype(bool), sort=False)):
        p = s["P"]
        reading = s["reading"].iloc[0]
        color = f"C{2 * k}"
        ax.errorbar(p, s["best_test_mean"], yerr=s["best_test_std"].fillna(0), marker="o", capsize=3,
                    color=color, ls="-" if default else "-.", label=f"ours, best epoch ({reading} reading)")
        ax.plot(p, s["final_test_mean"], "s:", color=color, label=f"ours, final epoch ({reading} reading)")
        for _, line in s.iterrows():
            for acc in _line_runs(runs, line)["best_test_acc"]:
                ax.plot(line["P"], acc, ".", color=color, alpha=0.4)
    epochs = int(summary["epochs"].max()) if len(summary) else 0
    p_of = dict(zip(summary["row"], summary["P"]))
    theirs = [(p_of[label], np.mean([max(c.test_acc[:epochs]) for c in curves]))
              for label in dict.fromkeys(summary["row"])
              if (curves := curves_for(experiment, label)) and epochs]
    if theirs:
        ax.plot(*zip(*theirs), "x--", color="k", label=f"authors' code, best of their first {epochs} epochs")
    ax.set_xlabel("AGT connection probability P")
    ax.set_ylabel("test accuracy (%)")
    ax.set_title(f"{experiment}: 10HL-64 asymmetric ({profile} profile)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return _save(fig, out_png)


def adjacency_panels(topologies: dict, out_png: str | os.PathLike) -> Path:
    """Paper Figure 3b-c: the block adjacency of each topology (row = receiving layer): forward
    blocks below the diagonal, their feedback twins above it; layers numbered from 1 as in the paper."""
    from matplotlib.colors import ListedColormap

    fig, axes = plt.subplots(1, len(topologies), figsize=(4.2 * len(topologies), 4), squeeze=False)
    cmap = ListedColormap(["white", "tab:blue", "tab:orange"])
    for ax, (name, topo) in zip(axes[0], topologies.items()):
        a = np.array(topo.adjacency())
        ax.imshow(a, cmap=cmap, vmin=0, vmax=2)
        n = a.shape[0]
        ax.set_xticks(range(n), range(1, n + 1), fontsize=7)
        ax.set_yticks(range(n), range(1, n + 1), fontsize=7)
        ax.set_xlabel("sending layer")
        ax.set_ylabel("receiving layer")
        ax.set_title(f"{name}: {len(topo.blocks)} blocks", fontsize=9)
    axes[0][0].text(0, -1.2, "blue: forward W (learns), orange: feedback B (x beta)", fontsize=7)
    return _save(fig, out_png)


# -- Figures S1-S7 (frecore.reporting.appendix holds the tables they are drawn from) -------------------

def _beta_colors(betas) -> dict[float, str]:
    return {b: plt.cm.viridis(i / max(1, len(betas) - 1)) for i, b in enumerate(sorted(betas))}


def dynamics_curves(runs_csv, summary_csv, out_png, profile: str, experiment: str) -> Path:
    """Figures S1-S2: a row per depth; FTMLE, MLE (epoch 0: the initial net), train and test accuracy
    vs epoch, one line per beta_i (mean over seeds)."""
    from frecore.reporting.appendix import epoch_table

    summary = pd.read_csv(summary_csv)
    t = epoch_table(_runs(runs_csv, summary), summary)
    archs = list(dict.fromkeys(summary["arch"]))
    colors = _beta_colors(set(t["beta"]) or {0.0})
    fig, axes = plt.subplots(len(archs), 4, figsize=(16, 3 * len(archs)), squeeze=False)
    for row, arch in zip(axes, archs):
        a = t[t["arch"] == arch]
        for ax, (col, label) in zip(row, (("ftmle", "FTMLE"), ("mle", "MLE"),
                                          ("train_acc", "train accuracy (%)"),
                                          ("test_acc", "test accuracy (%)"))):
            for beta, b in a.groupby("beta"):
                curve = b.groupby("epoch")[col].mean().dropna()
                if len(curve):
                    ax.plot(curve.index, curve.to_numpy(), "o-", ms=3, color=colors[beta], label=f"{beta:g}")
            ax.set_title(f"{arch}: {label}", fontsize=9)
            ax.set_xlabel("epoch")
            ax.xaxis.get_major_locator().set_params(integer=True)
            ax.grid(alpha=0.3)
        if row[0].get_legend_handles_labels()[0]:
            row[0].legend(title="beta_i", fontsize=6, title_fontsize=7)
    fig.suptitle(f"{experiment} ({profile} profile; epoch 0: before training)")
    return _save(fig, out_png, dpi=100)


def dynamics_maxima(runs_csv, summary_csv, out_png, profile: str, experiment: str) -> Path:
    """Figure S3: maxima over epochs of FTMLE and of test accuracy vs beta_i, a line per depth;
    (a) symmetric, (b) asymmetric; a diverged run leaves its point out."""
    from frecore.reporting.appendix import epoch_table, maxima

    summary = pd.read_csv(summary_csv)
    m = maxima(epoch_table(_runs(runs_csv, summary), summary))
    fig, axes = plt.subplots(2, 2, figsize=(10, 7))
    for row, conn, tag in zip(axes, ("symm", "asymm"), ("(a) symmetric", "(b) asymmetric")):
        for k, (arch, a) in enumerate(m[m["arch"].str.endswith(f"-{conn}")].groupby("arch", sort=False)):
            for ax, col in zip(row, ("ftmle", "test_acc")):
                ax.plot(a["beta"], a[col], "o-", color=f"C{k}", label=arch.split("-")[0])
        for ax, label in zip(row, ("max FTMLE over epochs", "max test accuracy over epochs (%)")):
            ax.set_xscale("log")
            ax.set_xlabel("feedback scaling beta_i")
            ax.set_ylabel(label)
            ax.set_title(tag, fontsize=9)
            ax.grid(alpha=0.3)
            if ax.get_legend_handles_labels()[0]:
                ax.legend(fontsize=7)
    fig.suptitle(f"{experiment} ({profile} profile)")
    return _save(fig, out_png, dpi=100)


def panel_curves(runs_csv, summary_csv, out_png, profile: str, experiment: str) -> Path:
    """A panel per row (Figure S4: (a) P-EP, (b-d) ours at each beta_i): train and test accuracy vs
    epoch, each seed thin, the mean thick."""
    summary = pd.read_csv(summary_csv)
    if "default_reading" in summary:
        summary = summary[summary["default_reading"].astype(bool)]
    runs = _runs(runs_csv, summary)
    fig, axes = plt.subplots(1, len(summary), figsize=(4 * len(summary), 3.4), squeeze=False)
    for k, (ax, (_, s)) in enumerate(zip(axes[0], summary.iterrows())):
        for col, color in (("train_acc", "C0"), ("test_acc", "C1")):
            for c in _epoch_curves(runs, s, col):
                ax.plot(np.arange(1, len(c) + 1), c, color=color, lw=0.6, alpha=0.5)
        _accuracy_panel(ax, runs, s, f"({chr(97 + k)}) {s['row']}",
                        {"train_acc": ("o-", "C0"), "test_acc": ("o-", "C1")})
    fig.suptitle(f"{experiment} ({profile} profile)")
    return _save(fig, out_png, dpi=100)


def _epoch_curves(runs: pd.DataFrame, s: pd.Series, col: str) -> list[list[float]]:
    """One per-epoch curve of `col` per run of a summary line."""
    return [[e[col] for e in json.loads(h)] for h in _line_runs(runs, s)["history"]]


def _accuracy_panel(ax, runs: pd.DataFrame, s: pd.Series, title: str, styles: dict) -> None:
    """Train and test accuracy against epoch, the mean over a line's runs (to the shortest run)."""
    for col, (style, color) in styles.items():
        curves = _epoch_curves(runs, s, col)
        if curves:
            m = min(len(c) for c in curves)
            ax.plot(np.arange(1, m + 1), np.array([c[:m] for c in curves]).mean(0), style, ms=3, color=color,
                    label=col.replace("_acc", ""))
    ax.set_title(title, fontsize=9)
    ax.set_xlabel("epoch")
    ax.set_ylabel("accuracy (%)")
    ax.grid(alpha=0.3)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=7)


def neuron_error_maps(runs_csv, summary_csv, out_png, profile: str, experiment: str) -> Path:
    """Figures S5-S7: per beta_i, |mean error| of every neuron in each epoch's last training batch
    (neuron index from the first hidden layer up to the output, log colour scale 1e-8..1, the first
    recorded seed) beside train and test accuracy vs epoch."""
    from matplotlib.colors import LogNorm

    from frecore.reporting.appendix import neuron_errors

    summary = pd.read_csv(summary_csv)
    if "default_reading" in summary:
        summary = summary[summary["default_reading"].astype(bool)]
    runs = _runs(runs_csv, summary)
    errors = neuron_errors(runs, summary)
    n = len(summary)
    fig, axes = plt.subplots(n, 2, figsize=(10, 2.6 * n), squeeze=False,
                             gridspec_kw={"width_ratios": [1.4, 1]})
    for k, (row, (_, s)) in enumerate(zip(axes, summary.iterrows())):
        e = errors.get(s["row"])
        ax = row[0]
        if e is not None:
            mag = np.clip(np.abs(e.T), 1e-8, None)  # (neurons, epochs)
            im = ax.pcolormesh(np.arange(1, e.shape[0] + 2) - 0.5, np.arange(e.shape[1] + 1), mag,
                               norm=LogNorm(vmin=1e-8, vmax=1), cmap="viridis", shading="flat")
            fig.colorbar(im, ax=ax)
        else:
            ax.text(0.5, 0.5, "no per-neuron error recorded", ha="center", va="center",
                    transform=ax.transAxes)
        acc = row[1]
        for a in (ax, acc):
            a.xaxis.get_major_locator().set_params(integer=True)
        ax.set_title(f"({chr(97 + k)}) error, {s['row']}", fontsize=9)
        ax.set_xlabel("epoch")
        ax.set_ylabel("neuron index")
        _accuracy_panel(acc, runs, s, f"({chr(97 + n + k)}) accuracy, {s['row']}",
                        {"train_acc": ("o--", None), "test_acc": ("o-", None)})
    fig.suptitle(f"{experiment} ({profile} profile; |batch-mean error|, nudged minus free)")
    return _save(fig, out_png, dpi=100)


PLOTS = {  # by the name an experiment registers with (experiments.register_experiment(plot=...))
    "dynamics_curves": dynamics_curves,
    "dynamics_maxima": dynamics_maxima,
    "panel_curves": panel_curves,
    "neuron_error_maps": neuron_error_maps,
    "grouped_bars": grouped_bars,
    "beta_heatmap": beta_heatmap,
    "accuracy_vs_p": accuracy_vs_p,
    "accuracy_curves": accuracy_curves,
    "dynamics_vs_beta": dynamics_vs_beta,
    "error_curves": error_curves,
    "alpha_beta_heatmaps": alpha_beta_heatmaps,
    "noise_heatmaps": noise_heatmaps,
    "accuracy_vs_trained_layers": accuracy_vs_trained_layers,
}


def alignment_panels(csv: str | os.PathLike, out_png: str | os.PathLike) -> Path:
    """Figure S10: cosine similarity EP vs BP per layer; rows = panels, columns = quantities."""
    t = pd.read_csv(csv, dtype={"layer": str})
    panels = list(dict.fromkeys(t["panel"]))
    quantities = list(dict.fromkeys(t["quantity"]))
    fig, axes = plt.subplots(len(panels), len(quantities), figsize=(4.2 * len(quantities), 2.8 * len(panels)),
                             squeeze=False, sharey=True)
    for i, panel in enumerate(panels):
        for k, q in enumerate(quantities):
            ax = axes[i][k]
            for setting, g in t[(t["panel"] == panel) & (t["quantity"] == q)].groupby("setting", sort=False):
                ax.plot(g["layer"], g["cosine"], "o-", ms=3, label=setting)
            ax.set_ylim(-1.05, 1.05)
            ax.axhline(1.0, color="k", lw=0.5)
            ax.grid(alpha=0.3)
            ax.set_title(f"{q}: {panel}", fontsize=8)
            if k == 0:
                ax.set_ylabel("cosine (EP vs BP)")
            if i == len(panels) - 1:
                ax.set_xlabel("layer (input -> output)")
            ax.legend(fontsize=6, loc="lower left")
    return _save(fig, out_png, dpi=110)


def state_heatmaps(csv: str | os.PathLike, out_png: str | os.PathLike) -> Path:
    """Figure 2: neuron activity (top) and its one-step change (bottom) over steps, per setting."""
    t = pd.read_csv(csv)
    settings = list(dict.fromkeys(t["setting"]))
    fig, axes = plt.subplots(2, len(settings), figsize=(4.2 * len(settings), 6.5), squeeze=False)
    for k, setting in enumerate(settings):
        g = t[t["setting"] == setting]
        for row, (col, cmap, label) in enumerate((("state", "RdBu_r", "activity"),
                                                  ("change", "PuOr", "s[t]-s[t-1]"))):
            grid = g.pivot_table(index="neuron", columns="step", values=col)
            lim = max(1e-12, float(np.abs(grid.values).max()))
            im = axes[row][k].imshow(grid.values, aspect="auto", cmap=cmap, vmin=-lim, vmax=lim,
                                     origin="lower",
                                     extent=(grid.columns.min() - 0.5, grid.columns.max() + 0.5, -0.5,
                                             grid.shape[0] - 0.5))
            axes[row][k].set_title(f"{setting}: {label}", fontsize=8)
            axes[row][k].set_xlabel("step")
            axes[row][k].set_ylabel("neuron (s_1: 0-63, s_2: 64-127)")
            fig.colorbar(im, ax=axes[row][k], fraction=0.046)
    return _save(fig, out_png, dpi=110)
