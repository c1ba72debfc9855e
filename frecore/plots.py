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
