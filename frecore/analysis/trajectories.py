"""Figure 2: how every hidden neuron evolves during a free phase, at weak and strong feedback."""
from __future__ import annotations

from dataclasses import dataclass, replace

import pandas as pd
import torch

from frecore.config import ConfigError, DataConfig
from frecore.training.data import load_dataset
from frecore.experiments import PROFILES, layered64
from frecore.training.train import resolve_device
from frecore.training.loop import fit

FIG2_STEPS = 60  # recorded free-phase steps: three times the T = 20 the nets are trained with


@dataclass(frozen=True)
class TrajectorySetting:
    label: str
    feedback: str  # symmetric | random
    beta: float


FIG2_SETTINGS = (
    TrajectorySetting("(a, b) symmetric, beta_i=0.1", "symmetric", 0.1),
    TrajectorySetting("(c, d) symmetric, beta_i=2", "symmetric", 2.0),
    TrajectorySetting("(e, f) asymmetric, beta_i=0.1", "random", 0.1),
    TrajectorySetting("(g, h) asymmetric, beta_i=4", "random", 4.0),
)
FIG2_EPOCHS = {"smoke": 1, "quick": 3, "paper": 50}


def fig2_table(profile: str = "smoke", data_root: str | None = None, device: str = "auto",
               seed: int = 0) -> pd.DataFrame:
    """Train the four 2HL-64 nets of Figure 2 with EP, then record one free phase of the first
    test image for FIG2_STEPS steps. One row per (setting, step, neuron)."""
    if profile not in PROFILES:
        raise ConfigError(f"unknown profile {profile!r}; choose one of: {', '.join(PROFILES)}")
    prof = PROFILES[profile]
    dev = resolve_device(device)
    data = load_dataset(DataConfig(root=data_root, train_subset=prof.train_subset,
                                   test_subset=prof.test_subset),
                        device=dev)
    rows = []
    for st in FIG2_SETTINGS:
        cfg = layered64(2, st.beta, feedback=st.feedback)
        cfg = replace(cfg, optim=replace(cfg.optim, epochs=FIG2_EPOCHS[profile]), seed=seed, device=str(dev))
        net = fit(cfg, data, progress=False).net
        x = data.test.x[:1]
        with torch.no_grad():
            trace = net.relax(net.input_drive(x), FIG2_STEPS, record=True).trace
        prev = None
        for t, s in enumerate(trace, start=1):
            flat = torch.cat([layer[0] for layer in s]).cpu()  # s_1: 0-63, s_2: 64-127
            change = flat if prev is None else flat - prev
            rows += [{"profile": profile, "setting": st.label, "step": t, "neuron": i,
                      "state": float(v), "change": float(c)} for i, (v, c) in enumerate(zip(flat, change))]
            prev = flat
    return pd.DataFrame(rows)


def settling_steps(table: pd.DataFrame, tol: float = 1e-6, patience: int = 3) -> pd.Series:
    """Per setting, the convergence time of the recorded free phase (Appendix A's definition:
    max |s[t+1] - s[t]| < tol for `patience` steps); inf when it never settles."""
    from frecore.model.dynamics import first_settled

    out = {}
    for setting, g in table.groupby("setting", sort=False):
        changes = g.assign(c=g["change"].abs()).groupby("step")["c"].max().sort_index().tolist()
        t = first_settled(changes, tol, patience)
        out[setting] = float("inf") if t is None else float(t)
    return pd.Series(out, name="convergence_time")
