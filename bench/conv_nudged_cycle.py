"""Does the conv FRE-RNN's nudged phase settle? A diagnostic for one batch of Table 1's conv net,
and a training study of Table 2's conv net with the cycle probed as it learns.

    python bench/conv_nudged_cycle.py            # full-size net at init, first 128 MNIST images
    python bench/conv_nudged_cycle.py study --epochs 2 --epoch-fraction 0.25 --out results/conv_cycle.csv

The study trains Table 2's MNIST conv Ours row (the authors' code reading) as it is, with a
damped step s <- (1 - g) s + g rho(h) (g = 0.5), with the unpooling indices frozen at the free
phase's, and in the text's reading; `frecore.analysis.probes.conv_cycle_probe` is measured before training
and after every (partial) epoch: the share of cycling top units, max |s[K] - s[K-2]|, and the
cosine of EP's update with BP's gradient after K and K + 1 nudged steps.

The nudge enters the top conv layer through max-unpooling with the *current* pooling indices
(Algorithm S2). Nudging a pooling winner can hand the win to a neighbour, whose next step is nudged
instead, and so on: the state can end on a cycle rather than a fixed point, and then s^beta
depends on K's parity. Printed for the free phase and for the nudged phase (error recomputed each
step, as Algorithm 1, and held at its free value, as the authors' layered code): the largest change
of any layer in the free phase's last step, the share of top-layer units still changing, how far the state is
from the one two steps earlier (0: a period-2 cycle), and the mean step-to-step change against the
mean of s^beta - s^0.
"""
from __future__ import annotations

import argparse
import math

import torch
import torch.nn.functional as F

from frecore.config import DataConfig
from frecore.model.conv import ConvFRENet
from frecore.training.data import load_dataset
from frecore.experiments import get_rows
from frecore.model.build import build_fre_net


@torch.no_grad()
def nudged_cycle(net: ConvFRENet, x: torch.Tensor, y: torch.Tensor, free_steps: int, nudge_steps: int,
                 beta_f: float, hold_error: bool) -> dict[str, float]:
    """Step-by-step nudged phase from the free state, with the error as rules/ep.py forms it."""
    drive = net.input_drive(x)
    s0 = net.relax(drive, free_steps).state
    target = F.one_hot(y, net.w_out.shape[0]).to(x.dtype)
    e0 = target - torch.softmax(net.logits(s0[-1]), 1)

    def error(s):
        return e0 if hold_error else target - torch.softmax(net.logits(s[-1]), 1)

    states = [s0]
    for _ in range(nudge_steps):
        states.append(net.step(states[-1], drive, error(states[-1]), beta_f))
    top = [s[-1] for s in states]
    step = (top[-1] - top[-2]).abs()
    return {"free_last_change": float(max((u - v).abs().max() for u, v in zip(net.step(s0, drive), s0))),
            "share_changing": float((step > 1e-6).float().mean()),
            "period2_residual": float((top[-1] - top[-3]).abs().max()),
            "mean_step_change": float(step.mean()),
            "mean_delta": float((top[-1] - top[0]).abs().mean())}


STUDY_SETTINGS = {  # name -> changes to Table 2's MNIST conv Ours row (its default reading), or its text variant
    "as is (code reading)": {},
    "damped step g=0.5": {"net": {"damping": 0.5}},
    "indices frozen at the free phase": {"net": {"pool_indices": "free"}},
    "text reading": None,
}


def study(argv: list[str]) -> None:
    """Train each setting on a share of MNIST with the cycle probe; print and write a CSV per epoch."""
    import json
    from pathlib import Path

    import pandas as pd

    from frecore.config import override
    from frecore.analysis.probes import conv_cycle_probe
    from frecore.training.loop import fit

    p = argparse.ArgumentParser(prog="conv_nudged_cycle.py study")
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--epoch-fraction", type=float, default=0.25)
    p.add_argument("--train-subset", type=int, default=None)
    p.add_argument("--test-subset", type=int, default=None)
    p.add_argument("--settings", nargs="+", default=list(STUDY_SETTINGS), choices=list(STUDY_SETTINGS))
    p.add_argument("--data-root", default=None)
    p.add_argument("--out", default=None, help="CSV of one row per setting and epoch (0: before training)")
    a = p.parse_args(argv)
    row = {r.label: r for r in get_rows("table2")}["MNIST Conv Ours"]
    records = []
    for name in a.settings:
        changes = STUDY_SETTINGS[name]
        cfg = row.variants["text"] if changes is None else override(row.config, **changes)
        cfg = override(cfg, optim={"epochs": a.epochs, "epoch_fraction": a.epoch_fraction}, device="cpu",
                       data={"root": a.data_root, "train_subset": a.train_subset,
                                                                "test_subset": a.test_subset})
        result = fit(cfg, progress=False, probe=conv_cycle_probe)
        probes = [(0, math.nan, result.probe_before)] + [(h.epoch, h.test_acc, h.probe) for h in result.history]
        for epoch, acc, pr in probes:
            records.append({"setting": name, "epoch": epoch, "epoch_fraction": a.epoch_fraction, "test_acc": acc,
                            **pr, "status": result.status, "config": json.dumps(cfg.to_dict(), sort_keys=True)})
            print(f"{name:34s} epoch {epoch} ({a.epoch_fraction:g} of the data each): test {acc:6.2f}%  "
                  f"cos(EP, BP) K {pr['cosine_ep_bp_K']:.3f} / K+1 {pr['cosine_ep_bp_K+1']:.3f}  "
                  f"top units changing {pr['share_changing']:.1%}  max|s[K]-s[K-2]| {pr['period2_residual']:.1e}",
                  flush=True)
    if a.out:
        Path(a.out).parent.mkdir(parents=True, exist_ok=True)
        pd.DataFrame(records).to_csv(a.out, index=False)
        print(f"wrote {a.out}")


def main(argv: list[str] | None = None) -> None:
    import sys

    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["study"]:
        return study(argv[1:])
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--row", default="Conv Ours (hard-sigmoid)", help="a Table 1 conv row")
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--nudge-steps", type=int, default=12)
    p.add_argument("--data-root", default=None)
    p.add_argument("--variant", default="text", help="the row's reading (text: Table S3's, where the cycle was found)")
    a = p.parse_args(argv)
    cfg = {r.label: r.reading_config(a.variant)[1] for r in get_rows("table1")}[a.row]
    data = load_dataset(DataConfig(dataset="mnist", root=a.data_root), device=torch.device("cpu"), dtype=torch.float32)
    x, y = data.train.x[: a.batch], data.train.y[: a.batch]
    net = build_fre_net(cfg.net, data.input_shape, 10, torch.Generator().manual_seed(0), torch.device("cpu"))
    print(f"{a.row}, batch {a.batch}, at init, T={cfg.rule.free_steps}, K={a.nudge_steps}, beta_f={cfg.rule.beta_f}")
    for hold in (False, True):
        m = nudged_cycle(net, x, y, cfg.rule.free_steps, a.nudge_steps, cfg.rule.beta_f, hold)
        print(f"error {'held' if hold else 'recomputed'}: free phase's last step changes a state by up to "
              f"{m['free_last_change']:.1e}; nudged phase: top units changing {m['share_changing']:.1%}, "
              f"max |s[K] - s[K-2]| {m['period2_residual']:.1e}, mean |s[K] - s[K-1]| {m['mean_step_change']:.2e} "
              f"vs mean |s^beta - s^0| {m['mean_delta']:.2e}")


if __name__ == "__main__":
    main()
