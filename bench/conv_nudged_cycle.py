"""Does the conv FRE-RNN's nudged phase settle? A diagnostic for one batch of Table 1's conv net.

    python bench/conv_nudged_cycle.py            # full-size net at init, first 128 MNIST images

The nudge enters the top conv layer through max-unpooling with the *current* pooling indices
(Algorithm S2). Nudging a pooling winner can hand the win to a neighbour, whose next step is nudged
instead, and so on: the state can end on a cycle rather than a fixed point, and then s^beta
depends on K's parity. Printed for the free phase and for the nudged phase (error recomputed each
step, as Algorithm 1, and held at its free value, as the authors' layered code): the largest change
of each layer in the last step, the share of top-layer units still changing, how far the state is
from the one two steps earlier (0: a period-2 cycle), and the mean step-to-step change against the
mean of s^beta - s^0.
"""
from __future__ import annotations

import argparse
from dataclasses import replace

import torch
import torch.nn.functional as F

from frecore.config import DataConfig
from frecore.data import load_dataset
from frecore.experiments import get_rows
from frecore.nets import build_net


@torch.no_grad()
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
    drive = net.input_drive(x)
    s0 = net.relax(drive, cfg.rule.free_steps)
    last = [float((u - v).abs().max()) for u, v in zip(net.relax(drive, 1, state=s0), s0)]
    print(f"{a.row}, batch {a.batch}, at init; free phase (T={cfg.rule.free_steps}): "
          f"max |change| in the last step per layer {[f'{v:.1e}' for v in last]}")
    target = F.one_hot(y, 10).to(x.dtype)
    e0 = target - torch.softmax(net.logits(s0[-1]), 1)
    for hold in (False, True):
        rule = replace(cfg.rule, hold_error=hold)
        states = [s0]
        for _ in range(a.nudge_steps):
            error = e0 if hold else target - torch.softmax(net.logits(states[-1][-1]), 1)
            states.append(net.relax(drive, 1, state=states[-1], error=lambda s, e=error: e, beta_f=rule.beta_f))
        top = [s[-1] for s in states]
        step = (top[-1] - top[-2]).abs()
        print(f"nudged phase ({'error held' if hold else 'error recomputed'}, beta_f={rule.beta_f}, "
              f"{a.nudge_steps} steps): top units changing {float((step > 1e-6).float().mean()):.1%}; "
              f"max |s[K] - s[K-2]| {float((top[-1] - top[-3]).abs().max()):.1e}; mean |s[K] - s[K-1]| "
              f"{float(step.mean()):.2e} vs mean |s^beta - s^0| {float((top[-1] - top[0]).abs().mean()):.2e}")


if __name__ == "__main__":
    main()
