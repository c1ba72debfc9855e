"""EP vs BP: time one training epoch of each on the same net and data, in one process.

    python bench/ep_vs_bp.py                     # 2HL-512, batch 500, T=10, K=10, full MNIST
    python bench/ep_vs_bp.py --device cuda --repeats 3
    python bench/ep_vs_bp.py --settle-tol 1e-3 --settle-tol-nudged 0.01   # the tolerance stop's defaults

Each rule starts from the same initial weights, gets a few untimed warm-up batches, then one
timed epoch; with --repeats the fastest epoch of each counts. Prints BP's time, EP's with the
paper's fixed T and K, and EP's with relaxation stopped when settled (RuleConfig.settle_tol: free
phase absolute, nudged phase relative to max |ds| unless --absolute; T and K are then caps), its
mean steps per batch, and both EP/BP ratios, by the wall clock and by this process's CPU time.
On cores shared with other work the wall clock measures the neighbours too; with --threads 1 the
CPU time is the steadier clock (no idle threads spinning).
"""
from __future__ import annotations

import argparse
import time

import torch

from frecore.config import DataConfig, NetConfig, OptimConfig, RuleConfig, RunConfig
from frecore.training.data import Split, load_dataset
from frecore.model.build import build_fre_net
from frecore.reporting.store import device_name
from frecore.rules import build_rule
from frecore.training.train import build_optimizer, resolve_device
from frecore.training.loop import train_epoch


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def time_epoch(cfg: RunConfig, train: Split, device: torch.device, warmup_batches: int = 3
               ) -> tuple[float, float, dict[str, float]]:
    """(wall seconds of one epoch, its CPU seconds, mean steps per batch where a tolerance stopped
    the phases)."""
    rule = build_rule(cfg.rule)
    net = build_fre_net(cfg.net, train.x.shape[1], 10, torch.Generator().manual_seed(cfg.seed), device)
    optimizer = build_optimizer(cfg, net)
    warm = Split(train.x[: warmup_batches * cfg.optim.batch_size],
                 train.y[: warmup_batches * cfg.optim.batch_size])
    train_epoch(rule, net, optimizer, warm, cfg.optim.batch_size, torch.Generator().manual_seed(1))
    counts = getattr(rule, "take_step_counts", lambda: {})
    counts()  # the warm-up's steps do not count
    _sync(device)
    t0, c0 = time.perf_counter(), time.process_time()
    loss, _ = train_epoch(rule, net, optimizer, train, cfg.optim.batch_size, torch.Generator().manual_seed(2))
    _sync(device)
    assert loss == loss, "non-finite loss in the benchmark epoch"
    return time.perf_counter() - t0, time.process_time() - c0, counts()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--hidden", type=int, nargs="+", default=[512, 512])
    p.add_argument("-T", type=int, default=10)
    p.add_argument("-K", type=int, default=10)
    p.add_argument("--settle-tol", type=float, default=1e-3,
                   help="free phase: stop once max |s[t+1] - s[t]| < this")
    p.add_argument("--settle-tol-nudged", type=float, default=1e-2,
                   help="nudged phase: stop once max |s[t+1] - s[t]| < this x max |s[t+1] - s^0|")
    p.add_argument("--absolute", action="store_true",
                   help="the nudged tolerance is absolute, not relative to max |ds|")
    p.add_argument("--batch-size", type=int, default=500)
    p.add_argument("--repeats", type=int, default=2)
    p.add_argument("--device", default="auto")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    p.add_argument("--data-root", default=None)
    a = p.parse_args()
    if a.threads is not None:
        torch.set_num_threads(a.threads)
    device = resolve_device(a.device)
    data = load_dataset(DataConfig(root=a.data_root), device=device)
    base = RunConfig(net=NetConfig(hidden=tuple(a.hidden)),
                     optim=OptimConfig(batch_size=a.batch_size, epochs=1))
    ep = RuleConfig(name="ep", free_steps=a.T, nudge_steps=a.K)
    settled = RuleConfig(name="ep", free_steps=a.T, nudge_steps=a.K, settle_tol=a.settle_tol,
                         settle_tol_nudged=a.settle_tol_nudged, settle_relative=not a.absolute)
    configs = {
        "BP": RunConfig(net=base.net, rule=RuleConfig(name="bp"), optim=base.optim),
        "EP": RunConfig(net=base.net, rule=ep, optim=base.optim),
        "EP settled": RunConfig(net=base.net, rule=settled, optim=base.optim),
    }
    best = {name: float("inf") for name in configs}
    cpu = {name: float("inf") for name in configs}
    steps: dict[str, float] = {}
    for _ in range(a.repeats):
        for name, cfg in configs.items():  # interleaved, so drift in machine load hits all alike
            seconds, cpu_seconds, counts = time_epoch(cfg, data.train, device)
            cpu[name] = min(cpu[name], cpu_seconds)
            if seconds < best[name]:
                best[name], steps = seconds, (counts if name == "EP settled" else steps)
    hidden = "x".join(map(str, a.hidden))
    nudged = f"{a.settle_tol_nudged:g}" + ("" if a.absolute else " x max|ds|")
    print(f"device: {device_name(str(device))}, torch {torch.__version__}, {torch.get_num_threads()} threads")
    print(f"net {hidden}, batch {a.batch_size}, {len(data.train)} samples, EP T={a.T} K={a.K}, best of "
          f"{a.repeats}")
    print(f"BP epoch: {best['BP']:.2f} s (CPU {cpu['BP']:.2f} s)")
    print(f"EP epoch (fixed T={a.T}, K={a.K}): {best['EP']:.2f} s (CPU {cpu['EP']:.2f} s)")
    print(f"EP epoch (settled: free {a.settle_tol:g}, nudged {nudged}; mean steps free "
          f"{steps.get('free', float('nan')):.2f}, nudged {steps.get('nudged', float('nan')):.2f}): "
          f"{best['EP settled']:.2f} s (CPU {cpu['EP settled']:.2f} s)")
    print(f"EP/BP epoch-time ratio, fixed T/K: {best['EP'] / best['BP']:.2f} (CPU time: "
          f"{cpu['EP'] / cpu['BP']:.2f})")
    print(f"EP/BP epoch-time ratio, settled: {best['EP settled'] / best['BP']:.2f} "
          f"(CPU time: {cpu['EP settled'] / cpu['BP']:.2f})")


if __name__ == "__main__":
    main()
