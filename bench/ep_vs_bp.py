"""EP vs BP: time one training epoch of each on the same net and data, in one process.

    python bench/ep_vs_bp.py                     # 2HL-512, batch 500, T=10, K=10, full MNIST
    python bench/ep_vs_bp.py --device cuda --repeats 3

Each rule starts from the same initial weights, gets a few untimed warm-up batches, then one
timed epoch; with --repeats the fastest epoch of each rule counts. Prints both times and EP/BP.
"""
from __future__ import annotations

import argparse
import time

import torch

from frecore.config import DataConfig, NetConfig, OptimConfig, RuleConfig, RunConfig
from frecore.data import Split, load_dataset
from frecore.nets import build_net
from frecore.results import device_name
from frecore.rules import build_rule
from frecore.train import build_optimizer, resolve_device, train_epoch


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def time_epoch(cfg: RunConfig, train: Split, device: torch.device, warmup_batches: int = 3) -> float:
    rule = build_rule(cfg.rule)
    net = build_net(cfg.net, train.x.shape[1], 10, torch.Generator().manual_seed(cfg.seed), device)
    optimizer = build_optimizer(cfg, net)
    warm = Split(train.x[: warmup_batches * cfg.optim.batch_size], train.y[: warmup_batches * cfg.optim.batch_size])
    train_epoch(rule, net, optimizer, warm, cfg.optim.batch_size, torch.Generator().manual_seed(1))
    _sync(device)
    t0 = time.perf_counter()
    loss, _ = train_epoch(rule, net, optimizer, train, cfg.optim.batch_size, torch.Generator().manual_seed(2))
    _sync(device)
    assert loss == loss, "non-finite loss in the benchmark epoch"
    return time.perf_counter() - t0


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--hidden", type=int, nargs="+", default=[512, 512])
    p.add_argument("-T", type=int, default=10)
    p.add_argument("-K", type=int, default=10)
    p.add_argument("--batch-size", type=int, default=500)
    p.add_argument("--repeats", type=int, default=2)
    p.add_argument("--device", default="auto")
    p.add_argument("--data-root", default=None)
    a = p.parse_args()
    device = resolve_device(a.device)
    data = load_dataset(DataConfig(root=a.data_root), device=device)
    base = RunConfig(net=NetConfig(hidden=tuple(a.hidden)), optim=OptimConfig(batch_size=a.batch_size, epochs=1))
    configs = {
        "BP": RunConfig(net=base.net, rule=RuleConfig(name="bp"), optim=base.optim),
        "EP": RunConfig(net=base.net, rule=RuleConfig(name="ep", free_steps=a.T, nudge_steps=a.K), optim=base.optim),
    }
    best = {name: float("inf") for name in configs}
    for _ in range(a.repeats):
        for name, cfg in configs.items():  # interleaved, so drift in machine load hits both
            best[name] = min(best[name], time_epoch(cfg, data.train, device))
    hidden = "x".join(map(str, a.hidden))
    print(f"device: {device_name(str(device))}, torch {torch.__version__}")
    print(f"net {hidden}, batch {a.batch_size}, {len(data.train)} samples, EP T={a.T} K={a.K}, best of {a.repeats}")
    print(f"BP epoch: {best['BP']:.2f} s")
    print(f"EP epoch: {best['EP']:.2f} s")
    print(f"EP/BP epoch-time ratio: {best['EP'] / best['BP']:.2f}")


if __name__ == "__main__":
    main()
