"""Figures computed directly rather than as a resumable sweep (Figures 2 and S10): compute the
table (frecore.analysis), write it and draw it (frecore.reporting)."""
from __future__ import annotations

from pathlib import Path
from typing import Callable

import pandas as pd

from frecore.analysis.alignment import figS10_table
from frecore.analysis.trajectories import fig2_table
from frecore.reporting import plots
from frecore.reporting.store import write_csv


def _written(table: pd.DataFrame, out_dir: str, name: str,
             draw: Callable[[Path, Path], object]) -> pd.DataFrame:
    """Write <name>.csv in out_dir and draw <name>.png from it."""
    out = Path(out_dir)
    write_csv(table, out / f"{name}.csv")
    draw(out / f"{name}.csv", out / f"{name}.png")
    return table


def run_fig2(profile: str = "smoke", data_root: str | None = None, device: str = "auto",
             out_dir: str = "results", seed: int = 0) -> pd.DataFrame:
    """Figure 2's state trajectories; writes fig2.csv and fig2.png in out_dir."""
    return _written(fig2_table(profile, data_root=data_root, device=device, seed=seed), out_dir, "fig2",
                    plots.state_heatmaps)


def run_figS10(profile: str = "smoke", data_root: str | None = None, device: str = "auto",
               out_dir: str = "results", seed: int = 0) -> pd.DataFrame:
    """Figure S10's EP-BP alignment per layer; writes figS10.csv and figS10.png in out_dir."""
    return _written(figS10_table(profile, data_root=data_root, device=device, seed=seed), out_dir, "figS10",
                    plots.alignment_panels)
