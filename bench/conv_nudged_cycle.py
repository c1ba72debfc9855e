"""Does the conv FRE-RNN's nudged phase settle? A diagnostic for one batch of Table 1's conv net.

    python bench/conv_nudged_cycle.py            # full-size net at init, first 128 MNIST images

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

import torch
import torch.nn.functional as F

from frecore.config import DataConfig
from frecore.conv import ConvFRENet
from frecore.data import load_dataset
from frecore.experiments import get_rows
from frecore.nets import build_net


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


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--row", default="Conv Ours (hard-sigmoid)", help="a Table 1 conv row")
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--nudge-steps", type=int, default=12)
    p.add_argument("--data-root", default=None)
    a = p.parse_args(argv)
    cfg = {r.label: r.config for r in get_rows("table1")}[a.row]
    data = load_dataset(DataConfig(dataset="mnist", root=a.data_root), device=torch.device("cpu"), dtype=torch.float32)
    x, y = data.train.x[: a.batch], data.train.y[: a.batch]
    net = build_net(cfg.net, data.input_shape, 10, torch.Generator().manual_seed(0), torch.device("cpu"))
    print(f"{a.row}, batch {a.batch}, at init, T={cfg.rule.free_steps}, K={a.nudge_steps}, beta_f={cfg.rule.beta_f}")
    for hold in (False, True):
        m = nudged_cycle(net, x, y, cfg.rule.free_steps, a.nudge_steps, cfg.rule.beta_f, hold)
        print(f"error {'held' if hold else 'recomputed'}: free phase's last step changes a state by up to "
              f"{m['free_last_change']:.1e}; nudged phase: top units changing {m['share_changing']:.1%}, "
              f"max |s[K] - s[K-2]| {m['period2_residual']:.1e}, mean |s[K] - s[K-1]| {m['mean_step_change']:.2e} "
              f"vs mean |s^beta - s^0| {m['mean_delta']:.2e}")


if __name__ == "__main__":
    main()
