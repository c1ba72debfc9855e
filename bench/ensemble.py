"""Members side by side vs the same runs one after another, measured in one process.

For each case: M runs of one row (seeds, or Table S1's beta_i values) trained for the same share of
an epoch, first one after the other with `fit`, then side by side with `fit_members`; prints wall
seconds, members per second and the ratio (one after another / side by side; > 1: side by side is
faster), and from the side-by-side figure the row's paper protocol (all its seeds, all its epochs)
projected on this device (test passes included: an upper bound). Cases a pass cannot group yet
(conv) are printed as such.

    python bench/ensemble.py [--fraction 0.02] [--device cpu|cuda]
"""
from __future__ import annotations

import argparse
import os
import time
from dataclasses import replace

import torch

from frecore.config import RunConfig
from frecore.experiments import get_rows, plan
from frecore.model.init import TORCH_DTYPES
from frecore.training.data import load_dataset
from frecore.training.members import fit_members, groupable
from frecore.training.train import fit, resolve_device

CASES = (  # (label, experiment, rows, seeds)
    ("2HL-512 EP, M = 5 seeds", "table1", ["2HL Ours (tanh, Adam)"], [0, 1, 2, 3, 4]),
    ("10HL-64 residual EP, M = 5 seeds", "table2", ["MNIST 10-symm Ours-Residual"], [0, 1, 2, 3, 4]),
    ("Table S1 2HL-symm beta sweep, M = 7", "tableS1", None, [0]),
    ("MNIST conv EP, M = 2 seeds", "table1", ["Conv Ours (hard-sigmoid)"], [0, 1]),
)


def configs(experiment: str, rows: list[str] | None, seeds: list[int], device: str, fraction: float) -> list[RunConfig]:
    if rows is None:
        rows = [r.label for r in get_rows(experiment) if r.label.startswith("2HL-symm beta=")]
    runs = plan(experiment, "paper", rows=rows, seeds=seeds, device=device)
    return [replace(p.config, optim=replace(p.config.optim, epochs=1, epoch_fraction=fraction),
                    data=replace(p.config.data, test_subset=1000)) for p in runs]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--fraction", type=float, default=0.02, help="share of one epoch each run trains")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--data-root", default=os.environ.get("FRECORE_DATA"))
    a = ap.parse_args()
    device = resolve_device(a.device)
    name = torch.cuda.get_device_name() if device.type == "cuda" else f"cpu x{torch.get_num_threads()} threads"
    print(f"device: {name}; each run trains {a.fraction:g} of an epoch (+ a 1000-image test pass)")
    print("| case | one after another (s) | side by side (s) | members/s after / side | ratio | paper protocol, side by side |")
    print("|---|---|---|---|---|---|")
    data = None
    for label, experiment, rows, seeds in CASES:
        cfgs = configs(experiment, rows, seeds, str(device), a.fraction)
        if not groupable(cfgs):
            print(f"| {label} | - | - | - | not groupable yet (layered EP/BP only) | - |")
            continue
        cfgs = [replace(c, data=replace(c.data, root=a.data_root)) for c in cfgs]
        if data is None or data.train.x.dtype != TORCH_DTYPES[cfgs[0].net.dtype]:
            data = load_dataset(cfgs[0].data, device=device, dtype=TORCH_DTYPES[cfgs[0].net.dtype])
        t = time.perf_counter()
        for c in cfgs:
            fit(c, data, progress=False)
        apart = time.perf_counter() - t
        t = time.perf_counter()
        fit_members(cfgs, data)
        together = time.perf_counter() - t
        m = len(cfgs)
        paper = plan(experiment, "paper", rows=rows or [r.label for r in get_rows(experiment)
                                                        if r.label.startswith("2HL-symm beta=")])
        epochs = paper[0].config.optim.epochs
        projected = together / a.fraction * epochs * len(paper) / m  # every planned run, side by side
        print(f"| {label} | {apart:.1f} | {together:.1f} | {m / apart:.3f} / {m / together:.3f} | {apart / together:.2f} "
              f"| {projected / 3600:.1f} h ({len(paper)} runs x {epochs} epochs) |")


if __name__ == "__main__":
    main()
