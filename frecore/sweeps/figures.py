"""Figures computed directly rather than as a resumable sweep (Figures 2 and S10): compute the
table (frecore.analysis), write it and draw it (frecore.reporting)."""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from frecore.analysis.alignment import figS10_table
from frecore.analysis.trajectories import fig2_table
from frecore.reporting import plots
from frecore.reporting.store import write_csv


def run_fig2(profile: str = "smoke", data_root: str | None = None, device: str = "auto",
             out_dir: str = "results", seed: int = 0) -> pd.DataFrame:
    """Figure 2's state trajectories; writes fig2.csv and fig2.png in out_dir."""
    table = fig2_table(profile, data_root=data_root, device=device, seed=seed)
    out = Path(out_dir)
    write_csv(table, out / "fig2.csv")
    plots.state_heatmaps(out / "fig2.csv", out / "fig2.png")
    return table


def run_figS10(profile: str = "smoke", data_root: str | None = None, device: str = "auto",
               out_dir: str = "results", seed: int = 0) -> pd.DataFrame:
    """Figure S10's EP-BP alignment per layer; writes figS10.csv and figS10.png in out_dir."""
    table = figS10_table(profile, data_root=data_root, device=device, seed=seed)
    out = Path(out_dir)
    write_csv(table, out / "figS10.csv")
    plots.alignment_panels(out / "figS10.csv", out / "figS10.png")
    return table
