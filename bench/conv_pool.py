"""Why the conv nets pool in channels-last: one conv EP training batch of a row's settings with
frecore's pooling (channels-last) against the NCHW pooling it replaced, same process, same weights
and batch; the gradients must come out identical (printed). Both reuse the step before's pooling in
'previous' mode, which saved a further pooling a step there (half of the old pooling's calls).

    OMP_NUM_THREADS=1 python bench/conv_pool.py --threads 1
"""
from __future__ import annotations

import argparse
import contextlib
import sys
import time
from unittest import mock

import torch
import torch.nn.functional as F

from frecore.config import ConfigError
from frecore.experiments import plan
from frecore.model import conv
from frecore.model.build import build_fre_net
from frecore.rules import build_rule


def nchw_pool(s: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    return F.max_pool2d(s, 2, return_indices=True)


def batch_seconds(experiment: str, row: str, variant: str | None, repeats: int,
                  nchw: bool) -> tuple[float, list[torch.Tensor]]:
    cfg = plan(experiment, "paper", rows=[row], seeds=[0], variant=variant)[0].config
    net = build_fre_net(cfg.net, (1, 28, 28), 10, torch.Generator().manual_seed(0), "cpu")
    rule = build_rule(cfg.rule)
    g = torch.Generator().manual_seed(1)
    n = cfg.optim.batch_size
    x, y = torch.rand(n, 784, generator=g), torch.randint(0, 10, (n,), generator=g)
    with mock.patch.object(conv, "max_pool", nchw_pool) if nchw else contextlib.nullcontext():
        rule.compute_gradients(net, x, y)  # warm-up
        t0 = time.perf_counter()
        for _ in range(repeats):
            rule.compute_gradients(net, x, y)
        return (time.perf_counter() - t0) / repeats, [w.grad.clone() for w in net.weights()]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=torch.get_num_threads())
    a = ap.parse_args(argv)
    if a.repeats < 1 or a.threads < 1:
        print("error: --repeats and --threads must be >= 1", file=sys.stderr)
        return 2
    torch.set_num_threads(a.threads)
    rows = (("table2", "MNIST Conv Ours", "code"), ("table2", "MNIST Conv Ours", "text"),
            ("table1", "Conv Ours (hard-sigmoid)", None))
    print(f"{a.threads} thread(s), {a.repeats} repeats, one training batch of each row's settings\n")
    print("| Row (reading) | NCHW pool (s/batch) | channels-last pool (s/batch) | speed-up | same grads |")
    print("|---|---|---|---|---|")
    for experiment, row, variant in rows:
        try:
            old, old_grads = batch_seconds(experiment, row, variant, a.repeats, nchw=True)
            new, new_grads = batch_seconds(experiment, row, variant, a.repeats, nchw=False)
        except ConfigError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        same = all(torch.equal(p, q) for p, q in zip(old_grads, new_grads))
        print(f"| {experiment} {row} ({variant or 'default'}) | {old:.3f} | {new:.3f} | {old / new:.2f}x | "
              f"{'yes' if same else 'NO'} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
