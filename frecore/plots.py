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


def accuracy_curves(runs_csv: str | os.PathLike, summary_csv: str | os.PathLike, out_png: str | os.PathLike,
                    profile: str, experiment: str) -> Path:
    """Test accuracy vs epoch per table row (mean over seeds, band = min..max), paper value dashed."""
    runs = pd.read_csv(runs_csv)
    runs = runs[(runs["profile"] == profile) & (runs["experiment"] == experiment) & (runs["status"] == "ok")]
    summary = pd.read_csv(summary_csv)
    archs = list(dict.fromkeys(summary["arch"]))
    fig, axes = plt.subplots(1, len(archs), figsize=(6 * len(archs), 4.2), squeeze=False)
    for ax, arch in zip(axes[0], archs):
        for k, (_, s) in enumerate(summary[summary["arch"] == arch].iterrows()):
            color = f"C{k}"
            curves = [[e["test_acc"] for e in json.loads(h)] for h in runs.loc[runs["row"] == s["row"], "history"]]
            if curves:
                n = min(len(c) for c in curves)
                acc = np.array([c[:n] for c in curves])
                epochs = np.arange(1, n + 1)
                ax.plot(epochs, acc.mean(0), color=color, marker="o", ms=3,
                        label=f"{s['approach']} (ours, n={len(curves)})")
                ax.fill_between(epochs, acc.min(0), acc.max(0), color=color, alpha=0.2)
            ax.axhline(s["paper_test"], color=color, ls="--", lw=1, label=f"{s['approach']} (paper)")
        ax.set_title(f"{experiment}: {arch} ({profile} profile)")
        ax.set_xlabel("epoch")
        ax.set_ylabel("test accuracy (%)")
        lo = summary.loc[summary["arch"] == arch, "paper_test"].min() - 3
        ax.set_ylim(max(lo, 80), 100)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    out = Path(out_png)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=120)
    plt.close(fig)
    return out


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
    beta = s["approach"].astype(float)
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
    fig.suptitle(f"{experiment}: {s['arch'].iloc[0]} ({profile} profile; missing points: not settled within 500 steps)")
    fig.tight_layout()
    out = Path(out_png)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=120)
    plt.close(fig)
    return out


PLOTS = {"accuracy_curves": accuracy_curves, "dynamics_vs_beta": dynamics_vs_beta}


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
    fig.tight_layout()
    out = Path(out_png)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out
