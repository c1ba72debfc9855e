"""Table 1's speed ratios, measured in one process: conv EP vs conv BP, and P-EP vs ours.

    python bench/table1_ratios.py                      # full MNIST, CPU or the default GPU
    python bench/table1_ratios.py --device cuda --scale 4

Every rule runs Table 1's own settings (frecore.experiments' rows: batch size, T, K, optimiser)
from the same seed. A full epoch of P-EP takes minutes to hours, so each rule trains a share of
an epoch (after a few untimed warm-up batches) and its time is scaled to the whole epoch; the
share is sized to take seconds (--scale multiplies every share). Printed per pair: the epoch
times, their ratio, and the ratio of whole runs with each row's paper epochs (the paper's WCT
ratio: about 12x conv EP/BP, about 92x P-EP/ours at 2HL).
"""
from __future__ import annotations

import argparse
import time

import torch

from frecore.config import DataConfig
from frecore.training.data import Split, load_dataset
from frecore.experiments import get_rows
from frecore.model.init import TORCH_DTYPES
from frecore.reporting.store import device_name
from frecore.rules import build_rule
from frecore.training.train import build_optimizer, resolve_device
from frecore.training.loop import train_epoch

# (numerator row, denominator row, the share of an epoch each trains at --scale 1 on a 2-core CPU)
PAIRS = [
    ("Conv Ours (hard-sigmoid)", "Conv BP (hard-sigmoid)", 0.05, 0.5),
    ("2HL P-EP (sigmoid-s)", "2HL Ours (tanh, Adam)", 0.1, 0.5),
    ("3HL P-EP (sigmoid-s)", "3HL Ours (tanh, Adam)", 0.05, 0.5),
    ("Conv P-EP (hard-sigmoid)", "Conv Ours (hard-sigmoid)", 0.01, 0.05),
]


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def epoch_seconds(label: str, train: Split, input_shape: tuple[int, ...], device: torch.device,
                  fraction: float, warmup_batches: int = 3) -> float:
    """Seconds per whole epoch of a Table 1 row, from a timed `fraction` of one."""
    cfg = {r.label: r.config for r in get_rows("table1")}[label]
    rule = build_rule(cfg.rule)
    rule.check(cfg.net)
    net = rule.build_net(cfg.net, input_shape, 10, torch.Generator().manual_seed(0), device)
    optimizer = build_optimizer(cfg, net)
    bs = cfg.optim.batch_size
    warm = Split(train.x[: warmup_batches * bs], train.y[: warmup_batches * bs])
    train_epoch(rule, net, optimizer, warm, bs, torch.Generator().manual_seed(1))
    n_batches = -(-len(train) // bs)
    timed = max(1, round(fraction * n_batches))
    _sync(device)
    t0 = time.perf_counter()
    loss, _ = train_epoch(rule, net, optimizer, train, bs, torch.Generator().manual_seed(2),
                          fraction=timed / n_batches)
    _sync(device)
    assert loss == loss, f"non-finite loss while timing {label}"
    return (time.perf_counter() - t0) * n_batches / timed


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--device", default="auto")
    p.add_argument("--data-root", default=None)
    p.add_argument("--scale", type=float, default=1.0,
                   help="multiply every timed share of an epoch (<= 1 each)")
    a = p.parse_args()
    device = resolve_device(a.device)
    rows = {r.label: r for r in get_rows("table1")}
    data = load_dataset(DataConfig(dataset="mnist", root=a.data_root), device=device,
                        dtype=TORCH_DTYPES["float32"])
    print(f"device: {device_name(str(device))}, torch {torch.__version__}; "
          f"{len(data.train)} training samples")
    seconds: dict[str, float] = {}
    for num, den, f_num, f_den in PAIRS:
        for label, f in ((num, f_num), (den, f_den)):
            if label not in seconds:
                seconds[label] = epoch_seconds(label, data.train, data.input_shape, device,
                                               min(1.0, f * a.scale))
        e_num, e_den = rows[num].config.optim.epochs, rows[den].config.optim.epochs
        print(f"\n{num}: {seconds[num]:.1f} s/epoch ({rows[num].config.optim.batch_size}/batch, "
              f"T={rows[num].config.rule.free_steps}, K={rows[num].config.rule.nudge_steps})")
        print(f"{den}: {seconds[den]:.1f} s/epoch ({rows[den].config.optim.batch_size}/batch, "
              f"T={rows[den].config.rule.free_steps}, K={rows[den].config.rule.nudge_steps})")
        paper = rows[num].paper.wct_s / rows[den].paper.wct_s
        print(f"ratio per epoch: {seconds[num] / seconds[den]:.1f}x; per whole run ({e_num} vs {e_den} "
              f"epochs): {seconds[num] * e_num / (seconds[den] * e_den):.1f}x (paper's WCT ratio: "
              f"{paper:.1f}x)")


if __name__ == "__main__":
    main()
