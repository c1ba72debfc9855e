"""Dense-graph relaxation: a Python loop over blocks vs one batched matmul per step.

    python bench/graph_step.py                  # 5, 10, 20 hidden layers of 64, chain and residual
    python bench/graph_step.py --device cuda

Times the free + nudged phases of one EP batch (batch 500, T = 10 L, K = 5 L) both ways on the
same net, in one process, and prints the loop/batched ratio; frecore.model.build.use_batched encodes
which one the nets use.
"""
from __future__ import annotations

import argparse
import time

import torch

from frecore.config import NetConfig, RuleConfig
from frecore.model.build import build_fre_net
from frecore.reporting.store import device_name
from frecore.rules import build_rule
from frecore.training.train import resolve_device


def seconds_per_batch(net, rule, x, y, device, repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        if device.type == "cuda":
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        rule.phases(net, x, y)
        if device.type == "cuda":
            torch.cuda.synchronize()
        best = min(best, time.perf_counter() - t0)
    return best


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--device", default="auto")
    p.add_argument("--repeats", type=int, default=5)
    a = p.parse_args()
    device = resolve_device(a.device)
    g = torch.Generator().manual_seed(0)
    x = torch.rand(500, 784, generator=g).to(device)
    y = torch.randint(0, 10, (500,), generator=g).to(device)
    print(f"device: {device_name(str(device))}, torch {torch.__version__}; batch 500, T = 10 L, K = 5 L")
    print(f"{'net':<22}{'blocks':>7}{'loop ms':>10}{'batched ms':>12}{'loop/batched':>14}")
    for depth in (5, 10, 20):
        for topology in ("chain", "residual"):
            cfg = NetConfig(hidden=(64,) * depth, beta=0.1, topology=topology)
            net = build_fre_net(cfg, 784, 10, torch.Generator().manual_seed(0), device)
            rule = build_rule(RuleConfig(name="ep", free_steps=10 * depth, nudge_steps=5 * depth))
            times = {}
            for batched in (False, True):
                net.batched = batched
                rule.phases(net, x, y)  # warm-up
                times[batched] = seconds_per_batch(net, rule, x, y, device, a.repeats)
            print(f"{depth}HL {topology:<17}{len(net.topology.blocks):>7}{1e3 * times[False]:>10.1f}"
                  f"{1e3 * times[True]:>12.1f}{times[False] / times[True]:>14.2f}")


if __name__ == "__main__":
    main()
