"""EP's estimators against beta_f: how each update approaches its beta_f -> 0 limit and BP's gradient.

For each net (the settings of Table 1's "2HL Ours (tanh, Adam)", Table 2's "MNIST 10-symm
Ours-Residual" and Table 1's "Conv Ours (hard-sigmoid)"), at init and after one epoch of training
(float32, the row's own settings, seed 0; cached, so a rerun only measures), on the first `batch`
test images, in float64: the update of each estimator (one-sided, centered, random-sign at sigma =
-1; at sigma = +1 it is the one-sided update) at each beta_f, against (a) the exact beta_f -> 0 limit
for the same T and K (frecore.analysis.estimators.update_limit: forward-mode AD) and (b) BP's
gradient of the feedforward twin; then the fitted log-log slope of (a) against beta_f, and the cost:
steps and float32 seconds per training batch (the row's batch size) of each estimator.

`python -m frecore estimators` runs it and writes results/estimators.csv (every point) and
results/estimators_summary.csv (slopes, costs) through the results store's atomic writer
(docs/readings.md, "Beyond the paper").
"""
from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path
from typing import Callable, Sequence

import pandas as pd
import torch

from frecore.analysis.estimators import estimator_rows, loglog_slope, time_per_batch
from frecore.config import ESTIMATORS, ConfigError, DataConfig, RunConfig, override
from frecore.experiments.registry import get_rows
from frecore.model.build import build_fre_net
from frecore.training.data import load_dataset
from frecore.training.loop import fit

NETS = {  # name -> (experiment, row label)
    "2hl": ("table1", "2HL Ours (tanh, Adam)"),
    "res10": ("table2", "MNIST 10-symm Ours-Residual"),
    "conv": ("table1", "Conv Ours (hard-sigmoid)"),
}
BETAS = (0.1, 0.0316, 0.01, 0.00316, 0.001)  # two decades
STAGES = ("init", "epoch1")


def row_config(name: str) -> RunConfig:
    if name not in NETS:
        raise ConfigError(f"unknown net {name!r}; choose from {', '.join(NETS)}")
    experiment, label = NETS[name]
    (row,) = [r for r in get_rows(experiment) if r.label == label]
    return replace(row.config, device="cpu")


def trained_state(name: str, cfg: RunConfig, root: str | None, cache: Path,
                  say: Callable[[str], None]) -> dict:
    """The row's net after one float32 epoch (seed 0), trained once and cached."""
    path = cache / f"{name}_epoch1.pt"
    if path.exists():
        return torch.load(path, weights_only=True)
    t = time.perf_counter()
    result = fit(override(cfg, optim={"epochs": 1}, data={"root": root, "download": False}), progress=False)
    say(f"{name}: trained one epoch in {time.perf_counter() - t:.0f} s, test {result.final_test_acc:.2f}%")
    cache.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().clone() for k, v in result.net.state_dict().items()}
    torch.save(state, path)
    return state


def _slopes(name: str, stage: str, df: pd.DataFrame) -> list[dict]:
    out = []
    for (estimator, weight), g in df[df.beta_f > 0].groupby(["estimator", "weight"], sort=False):
        out.append({"net": name, "stage": stage, "estimator": estimator, "weight": weight,
                    "hidden": bool(g.hidden.iloc[0]), "slope": loglog_slope(g.beta_f, g.rel_err_limit),
                    "err_limit_max_beta": g.rel_err_limit.iloc[0],
                    "err_limit_min_beta": g.rel_err_limit.iloc[-1],
                    "cos_bp_max_beta": g.cos_bp.iloc[0], "cos_bp_min_beta": g.cos_bp.iloc[-1],
                    "err_bp_max_beta": g.rel_err_bp.iloc[0], "err_bp_min_beta": g.rel_err_bp.iloc[-1]})
    for _, r in df[df.beta_f == 0].iterrows():
        out.append({"net": name, "stage": stage, "estimator": r.estimator, "weight": r.weight,
                    "hidden": bool(r.hidden), "cos_bp_min_beta": r.cos_bp, "err_bp_min_beta": r.rel_err_bp})
    return out


def measure(names: Sequence[str], batch: int = 128, betas: Sequence[float] = BETAS,
            stages: Sequence[str] = STAGES, data_root: str | None = None,
            cache: str | Path = ".checkpoints/estimators", cost: bool = True,
            say: Callable[[str], None] = print) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(every point, the summary: slopes per weight and the cost per estimator) for these nets."""
    cfgs = {name: row_config(name) for name in names}
    if batch < 1 or not betas or any(b <= 0 for b in betas):
        raise ConfigError("batch must be >= 1 and every beta_f > 0")
    unknown = set(stages) - set(STAGES)
    if unknown:
        raise ConfigError(f"unknown stage {sorted(unknown)[0]!r}; choose from {', '.join(STAGES)}")
    data = load_dataset(DataConfig(root=data_root, test_subset=batch, train_subset=1, download=False),
                        dtype=torch.float64)
    points, summary = [], []
    for name, cfg in cfgs.items():
        for stage in stages:
            net = build_fre_net(replace(cfg.net, dtype="float64"), data.input_shape, 10,
                                torch.Generator().manual_seed(cfg.seed))
            if stage == "epoch1":  # trained in float32, measured in float64
                net.load_state_dict(trained_state(name, cfg, data_root, Path(cache), say))
            t = time.perf_counter()
            rows = estimator_rows(net, data.test.x, data.test.y, cfg.rule, list(betas))
            say(f"{name} {stage}: measured in {time.perf_counter() - t:.0f} s")
            points += [{"net": name, "row": NETS[name][1], "stage": stage, **r} for r in rows]
            summary += _slopes(name, stage, pd.DataFrame(rows))
        if not cost:
            continue
        net32 = build_fre_net(cfg.net, data.input_shape, 10, torch.Generator().manual_seed(cfg.seed))
        train = load_dataset(DataConfig(root=data_root, train_subset=cfg.optim.batch_size, test_subset=1,
                                        download=False))
        for estimator in ESTIMATORS:  # float32, the row's batch size, its T and K
            rule = replace(cfg.rule, estimator=estimator)
            steps = rule.free_steps + rule.nudge_steps * (2 if estimator == "centered" else 1)
            summary.append({"net": name, "stage": "cost", "estimator": estimator, "weights": "all",
                            "steps_per_batch": steps,
                            "seconds_per_batch": time_per_batch(net32, train.train.x, train.train.y, rule),
                            "batch_size": cfg.optim.batch_size})
    return pd.DataFrame(points), pd.DataFrame(summary)


def digest(summary: pd.DataFrame) -> pd.DataFrame:
    """Per net, stage and estimator, over the hidden weights: the first weight's (longest credit
    path) and the median slope of the error against the limit; the median error against the limit
    and one minus the median cosine with BP at the largest and the smallest beta_f."""
    out = []
    hidden = summary[(summary.stage != "cost") & summary.hidden.fillna(False).astype(bool)]
    for (net, stage, estimator), g in hidden.groupby(["net", "stage", "estimator"], sort=False):
        out.append({"net": net, "stage": stage, "estimator": estimator,
                    "slope_first": g.slope.iloc[0], "slope_median": g.slope.median(),
                    "err_limit_max_beta": g.err_limit_max_beta.median(),
                    "err_limit_min_beta": g.err_limit_min_beta.median(),
                    "1-cos_bp_max_beta": 1 - g.cos_bp_max_beta.median(),
                    "1-cos_bp_min_beta": 1 - g.cos_bp_min_beta.median()})
    return pd.DataFrame(out)
