"""Members side by side vs the same runs one after the other, measured in one process.

For each case: M runs of one row (seeds, or Table S1's beta_i values) trained for the same share of
an epoch, first one after the other with `fit`, then side by side with `fit_members`; prints wall
seconds, members per second and the ratio (one after another / side by side; > 1: side by side is
faster), and from the side-by-side figure the row's paper protocol (all its seeds, all its epochs)
projected on this device (test passes included: an upper bound).

With --tables, the paper profile of Tables 1 (without P-EP), 2 (MNIST rows) and S1 is projected
from measurements: every group a sweep would train as one pass (frecore.sweeps.executors.groups,
side by side where the device's default executor does so: CUDA) is timed for the same share of an
epoch, and the times are scaled to each run's epochs and summed.

    python bench/ensemble.py [--fraction 0.02] [--repeats 3] [--device cpu|cuda] [--cases 1,2] [--tables]
"""
from __future__ import annotations

import argparse
import math
import os
import sys
import time
from dataclasses import replace
from typing import Callable

import torch

from frecore.config import ConfigError, RunConfig
from frecore.experiments import PlannedRun, get_rows, plan
from frecore.model.init import TORCH_DTYPES
from frecore.training.data import Dataset, load_dataset
from frecore.training.members import groupable
from frecore.training.loop import fit, fit_members
from frecore.training.train import resolve_device

def beta_sweep_rows() -> list[str]:
    return [r.label for r in get_rows("tableS1") if r.label.startswith("2HL-symm beta=")]


def agt_sweep_rows() -> list[str]:
    return [r.label for r in get_rows("figS8")]


SETTLED = {"settle_tol": 1e-3, "settle_tol_nudged": 0.01, "settle_relative": True}  # README's settling
CASES = (  # (label, experiment, rows (or a function giving them), seeds, rule settings changed)
    ("2HL-512 EP, M = 5 seeds", "table1", ["2HL Ours (tanh, Adam)"], [0, 1, 2, 3, 4], {}),
    ("10HL-64 residual EP, M = 5 seeds", "table2", ["MNIST 10-symm Ours-Residual"], [0, 1, 2, 3, 4], {}),
    ("Table S1 2HL-symm beta sweep, M = 7", "tableS1", beta_sweep_rows, [0], {}),
    ("MNIST conv EP, M = 2 seeds", "table1", ["Conv Ours (hard-sigmoid)"], [0, 1], {}),
    ("Figure S8 AGT P sweep (a graph per P), M = 7", "figS8", agt_sweep_rows, [0], {}),
    ("2HL-512 EP stopped when settled, M = 5 seeds", "table1", ["2HL Ours (tanh, Adam)"], [0, 1, 2, 3, 4],
     SETTLED),
)
TABLES: dict[str, Callable[[PlannedRun], bool]] = {  # what of each table's paper profile is projected
    "table1": lambda p: p.config.rule.name != "pep",
    "table2": lambda p: p.row.label.startswith("MNIST"),
    "tableS1": lambda p: True,
}


def shortened(cfg: RunConfig, fraction: float, data_root: str | None, test_subset: int = 1000) -> RunConfig:
    """`cfg` trained for `fraction` of one epoch, tested on `test_subset` images."""
    return replace(cfg, optim=replace(cfg.optim, epochs=1, epoch_fraction=fraction),
                   data=replace(cfg.data, test_subset=test_subset, root=data_root))


class DataCache:
    """One copy of each dataset per dtype on the device."""

    def __init__(self, device: torch.device) -> None:
        self.device, self._cache = device, {}

    def __call__(self, cfg: RunConfig) -> Dataset:
        key = (cfg.data.dataset, cfg.net.dtype)
        if key not in self._cache:
            self._cache[key] = load_dataset(cfg.data, device=self.device, dtype=TORCH_DTYPES[cfg.net.dtype])
        return self._cache[key]


def timed(cfgs: list[RunConfig], data: Dataset, side_by_side: bool) -> float:
    t = time.perf_counter()
    if side_by_side:
        fit_members(cfgs, data)
    else:
        for c in cfgs:
            fit(c, data, progress=False)
    return time.perf_counter() - t


def compare_cases(cases: list[int], device: torch.device, fraction: float, data_root: str | None,
                  data: DataCache, repeats: int) -> None:
    print(f"(best of {repeats} alternating repeats of each)")
    print("| case | one after another (s) | side by side (s) | members/s after / side | ratio | paper "
          "protocol, side by side |")
    print("|---|---|---|---|---|---|")
    for i in cases:
        label, experiment, rows, seeds, rule = CASES[i]
        rows = rows() if callable(rows) else rows
        cfgs = [shortened(p.config, fraction, data_root)
                for p in plan(experiment, "paper", rows=rows, seeds=seeds, device=str(device))]
        cfgs = [replace(c, rule=replace(c.rule, **rule)) for c in cfgs]
        if not groupable(cfgs):
            print(f"| {label} | - | - | - | not groupable | - |")
            continue
        # the least disturbed of alternating repeats: other work shares the cores
        apart, together = math.inf, math.inf
        for _ in range(repeats):
            apart = min(apart, timed(cfgs, data(cfgs[0]), side_by_side=False))
            together = min(together, timed(cfgs, data(cfgs[0]), side_by_side=True))
        m = len(cfgs)
        paper = plan(experiment, "paper", rows=rows)  # every seed of these rows
        epochs = paper[0].config.optim.epochs
        projected = together / fraction * epochs * len(paper) / m  # every planned run, side by side
        print(f"| {label} | {apart:.1f} | {together:.1f} | {m / apart:.3f} / {m / together:.3f} | "
              f"{apart / together:.2f} | {projected / 3600:.1f} h ({len(paper)} runs x {epochs} epochs) |",
              flush=True)


def project_tables(device: torch.device, fraction: float, data_root: str | None, data: DataCache) -> None:
    """Each table's paper profile on this device, from one timed pass per distinct group."""
    from frecore.sweeps.executors import groups
    from frecore.training.members import shared_settings

    side_by_side = device.type == "cuda"  # what `run` does by default on this device
    print(f"\nPaper profile projected from measured passes "
          f"({'side by side' if side_by_side else 'one run at a time'}, "
          f"{fraction:g} of an epoch each, scaled to every run's epochs; 100-image test passes included)")
    print("| table | runs | distinct passes timed | projected |")
    print("|---|---|---|---|")
    for name, keep in TABLES.items():
        runs = [p for p in plan(name, "paper", device=str(device)) if keep(p)]
        batches = groups(runs) if side_by_side else [[p] for p in runs]
        seconds, cost = 0.0, {}
        for g in batches:
            cfgs = [shortened(p.config, fraction, data_root, test_subset=100) for p in g]
            # members differing only in seed, alpha_i, beta_i cost the same
            key = (repr(shared_settings(cfgs[0])), len(cfgs))
            if key not in cost:
                cost[key] = timed(cfgs, data(cfgs[0]), side_by_side=len(cfgs) > 1)
            seconds += cost[key] / fraction * g[0].config.optim.epochs
        print(f"| {name} | {len(runs)} | {len(cost)} | {seconds / 3600:.2f} h |", flush=True)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--fraction", type=float, default=0.02, help="share of one epoch each run trains")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--data-root", default=os.environ.get("FRECORE_DATA"))
    ap.add_argument("--cases", default=",".join(str(i + 1) for i in range(len(CASES))),
                    help=f"comma-separated case numbers, 1-{len(CASES)} (none: '')")
    ap.add_argument("--repeats", type=int, default=3,
                    help="alternating repeats per case; the best of each is shown")
    ap.add_argument("--tables", action="store_true",
                    help="also project the paper profile of Tables 1, 2 and S1")
    a = ap.parse_args(argv)
    try:
        if not 0 < a.fraction <= 1:
            raise ConfigError(f"--fraction must be in (0, 1], got {a.fraction}")
        if a.repeats < 1:
            raise ConfigError(f"--repeats must be at least 1, got {a.repeats}")
        cases = [int(c) - 1 for c in a.cases.split(",") if c.strip()]
        if any(not 0 <= c < len(CASES) for c in cases):
            raise ConfigError(f"--cases: numbers from 1 to {len(CASES)}, got {a.cases!r}")
        device = resolve_device(a.device)
    except (ConfigError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    threads = torch.get_num_threads()
    name = torch.cuda.get_device_name() if device.type == "cuda" else f"cpu x{threads} threads"
    print(f"device: {name}; each run trains {a.fraction:g} of an epoch (+ a test pass)")
    data = DataCache(device)
    if cases:
        compare_cases(cases, device, a.fraction, a.data_root, data, a.repeats)
    if a.tables:
        project_tables(device, a.fraction, a.data_root, data)
    return 0


if __name__ == "__main__":
    sys.exit(main())
