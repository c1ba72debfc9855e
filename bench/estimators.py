"""EP's estimators against beta_f: how each update approaches its beta_f -> 0 limit and BP's gradient.

    OMP_NUM_THREADS=1 python bench/estimators.py                       # 2HL-512, 10-layer residual, MNIST
    conv
    OMP_NUM_THREADS=1 python bench/estimators.py --nets 2hl --batch 64   # one net

For each net (the settings of Table 1's "2HL Ours (tanh, Adam)", Table 2's "MNIST 10-symm
Ours-Residual" and Table 1's "Conv Ours (hard-sigmoid)"), at init and after one epoch of training
(float32, the row's own settings, seed 0; cached under .checkpoints/estimators/ so a rerun only
measures), on the first --batch test images, in float64: the update of each estimator
(one-sided, centered, random-sign at sigma = -1; at sigma = +1 it is the one-sided update) at
five beta_f over two decades, each against (a) the exact beta_f -> 0 limit for the same T and K
(frecore.analysis.estimators.update_limit: forward-mode AD) and (b) BP's gradient of the
feedforward twin. Then the fitted log-log slope of (a) against beta_f, and the cost: steps and
float32 seconds per training batch (the row's batch size) of each estimator.

Writes results/estimators.csv (every point), results/estimators_summary.csv (slopes, costs).
"""
from __future__ import annotations

import argparse
import sys
import time
from dataclasses import replace
from pathlib import Path

import pandas as pd
import torch

from frecore.analysis.estimators import estimator_rows, loglog_slope, time_per_batch
from frecore.config import DataConfig, RunConfig, override
from frecore.experiments.registry import get_rows
from frecore.model.build import build_fre_net
from frecore.training.data import load_dataset
from frecore.training.loop import fit

NETS = {  # name -> (experiment, row label)
    "2hl": ("table1", "2HL Ours (tanh, Adam)"),
    "res10": ("table2", "MNIST 10-symm Ours-Residual"),
    "conv": ("table1", "Conv Ours (hard-sigmoid)"),
}
ESTIMATORS = ("one-sided", "centered", "random-sign")


def row_config(name: str) -> RunConfig:
    experiment, label = NETS[name]
    (row,) = [r for r in get_rows(experiment) if r.label == label]
    return replace(row.config, device="cpu")


def trained_state(name: str, cfg: RunConfig, root: str | None, cache: Path) -> dict:
    """The row's net after one float32 epoch (seed 0), trained once and cached."""
    path = cache / f"{name}_epoch1.pt"
    if path.exists():
        return torch.load(path, weights_only=True)
    t = time.perf_counter()
    run = override(cfg, optim={"epochs": 1}, data={"root": root, "download": False})
    result = fit(run, progress=False)
    print(f"{name}: trained one epoch in {time.perf_counter() - t:.0f} s, test {result.final_test_acc:.2f}%",
          file=sys.stderr)
    cache.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().clone() for k, v in result.net.state_dict().items()}
    torch.save(state, path)
    return state


def digest(summary: pd.DataFrame) -> pd.DataFrame:
    """Per net, stage and estimator, over the hidden weights: the first weight's (longest credit
    path) and the median slope of the error against the limit; the median error against the limit
    and one minus the median cosine with BP at the largest and the smallest beta_f."""
    out = []
    hidden = summary[(summary.stage != "cost") & (summary.hidden == True)]  # noqa: E712 (a column)
    for (net, stage, estimator), g in hidden.groupby(["net", "stage", "estimator"], sort=False):
        out.append({"net": net, "stage": stage, "estimator": estimator,
                    "slope_first": g.slope.iloc[0], "slope_median": g.slope.median(),
                    "err_limit_max_beta": g.err_limit_max_beta.median(),
                    "err_limit_min_beta": g.err_limit_min_beta.median(),
                    "1-cos_bp_max_beta": 1 - g.cos_bp_max_beta.median(),
                    "1-cos_bp_min_beta": 1 - g.cos_bp_min_beta.median()})
    return pd.DataFrame(out)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--nets", default="2hl,res10,conv", help="comma-separated: " + ", ".join(NETS))
    p.add_argument("--batch", type=int, default=128, help="test images measured on (default: %(default)s)")
    p.add_argument("--betas", type=float, nargs="+", default=[0.1, 0.0316, 0.01, 0.00316, 0.001])
    p.add_argument("--stages", default="init,epoch1")
    p.add_argument("--data-root", default=None)
    p.add_argument("--cache", default=".checkpoints/estimators")
    p.add_argument("--out", default="results/estimators.csv")
    a = p.parse_args(argv)
    names = a.nets.split(",")
    unknown = [n for n in names if n not in NETS]
    if unknown or a.batch < 1:
        print(f"error: unknown net {unknown[0]!r}; choose from {', '.join(NETS)}" if unknown
              else "error: --batch must be >= 1", file=sys.stderr)
        return 2
    data = load_dataset(DataConfig(root=a.data_root, test_subset=a.batch, train_subset=1, download=False),
                        dtype=torch.float64)
    x, y = data.test.x, data.test.y
    points, summary = [], []
    for name in names:
        cfg = row_config(name)
        for stage in a.stages.split(","):
            net = build_fre_net(replace(cfg.net, dtype="float64"), data.input_shape, 10,
                                torch.Generator().manual_seed(cfg.seed))
            if stage == "epoch1":
                # copied into float64
                net.load_state_dict(trained_state(name, cfg, a.data_root, Path(a.cache)))
            t = time.perf_counter()
            rows = estimator_rows(net, x, y, cfg.rule, a.betas)
            print(f"{name} {stage}: measured in {time.perf_counter() - t:.0f} s", file=sys.stderr)
            for r in rows:
                points.append({"net": name, "row": NETS[name][1], "stage": stage, **r})
            df = pd.DataFrame(rows)
            for (estimator, weight), g in df[df.beta_f > 0].groupby(["estimator", "weight"], sort=False):
                summary.append({"net": name, "stage": stage, "estimator": estimator, "weight": weight,
                                "hidden": bool(g.hidden.iloc[0]),
                                "slope": loglog_slope(g.beta_f, g.rel_err_limit),
                                "err_limit_max_beta": g.rel_err_limit.iloc[0],
                                "err_limit_min_beta": g.rel_err_limit.iloc[-1],
                                "cos_bp_max_beta": g.cos_bp.iloc[0], "cos_bp_min_beta": g.cos_bp.iloc[-1],
                                "err_bp_max_beta": g.rel_err_bp.iloc[0],
                                "err_bp_min_beta": g.rel_err_bp.iloc[-1]})
            for _, r in df[df.beta_f == 0].iterrows():
                summary.append({"net": name, "stage": stage, "estimator": r.estimator, "weight": r.weight,
                                "hidden": bool(r.hidden), "cos_bp_min_beta": r.cos_bp,
                                "err_bp_min_beta": r.rel_err_bp})
        # cost: float32, the row's batch size, its T and K
        net32 = build_fre_net(cfg.net, data.input_shape, 10, torch.Generator().manual_seed(cfg.seed))
        train = load_dataset(DataConfig(root=a.data_root, train_subset=cfg.optim.batch_size, test_subset=1,
                                        download=False))
        for estimator in ESTIMATORS:
            rule = replace(cfg.rule, estimator=estimator)
            steps = rule.free_steps + rule.nudge_steps * (2 if estimator == "centered" else 1)
            seconds = time_per_batch(net32, train.train.x, train.train.y, rule)
            summary.append({"net": name, "stage": "cost", "estimator": estimator, "weights": "all",
                            "steps_per_batch": steps, "seconds_per_batch": seconds,
                            "batch_size": cfg.optim.batch_size})
    out = Path(a.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    pts, summ = pd.DataFrame(points), pd.DataFrame(summary)
    pts.to_csv(out, index=False)
    summ.to_csv(out.with_name(out.stem + "_summary.csv"), index=False)
    with pd.option_context("display.width", 250, "display.max_columns", 20, "display.max_rows", 500):
        print(digest(summ).to_string(index=False, float_format="%.3g"))
        print(
            summ[summ.stage == "cost"].dropna(axis=1, how="all").to_string(index=False, float_format="%.3g"))
    print(f"wrote {out} and {out.with_name(out.stem + '_summary.csv')}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
