"""Relaxation stopped when settled vs the paper's fixed T/K: accuracy, steps and time per epoch.

    python bench/settle_accuracy.py --row 2hl --mode fixed --epochs 10 --out results/settle_tol.csv
    python bench/settle_accuracy.py --row 2hl --mode tol --epochs 10 --out results/settle_tol.csv
    python bench/settle_accuracy.py --row 10res --mode tol --epochs 1 --out results/settle_tol.csv

Rows: '2hl' is Table 1's "2HL Ours (tanh, Adam)" (its text reading: T = K = 10), '10res' Table 2's
"MNIST 10-symm Ours-Residual" (the authors' graph code, T = 100, K = 50). Mode 'tol' adds
--settle-tol (free phase, absolute) and --settle-tol-nudged (nudged, relative to max |ds| unless
--absolute). One CSV line per epoch is appended as it ends, so a cut run keeps what it measured.
Epoch seconds are wall time on whatever else the machine runs: compare ratios measured in one
process (bench/ep_vs_bp.py), not these.
"""
from __future__ import annotations

import argparse
import csv
import json
import time
from dataclasses import replace
from pathlib import Path

import torch

from frecore.config import override
from frecore.experiments import get_experiment
from frecore.training.loop import fit

ROWS = {"2hl": ("table1", "2HL Ours (tanh, Adam)"), "10res": ("table2", "MNIST 10-symm Ours-Residual")}
FIELDS = ["row", "mode", "settle", "seed", "epoch", "epochs", "epoch_fraction", "train_acc", "test_acc", "test_loss",
          "free_steps", "nudged_steps", "seconds", "threads", "when"]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--row", choices=tuple(ROWS), default="2hl")
    p.add_argument("--mode", choices=("fixed", "tol"), default="tol")
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--epoch-fraction", type=float, default=1.0)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--settle-tol", type=float, default=1e-4)
    p.add_argument("--settle-tol-nudged", type=float, default=1e-2)
    p.add_argument("--absolute", action="store_true", help="nudged tolerance absolute, not relative to max |ds|")
    p.add_argument("--threads", type=int, default=torch.get_num_threads())
    p.add_argument("--out", default="results/settle_tol.csv")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    experiment, label = ROWS[a.row]
    row = next(r for r in get_experiment(experiment).rows() if r.label == label)
    cfg = override(row.config, optim={"epochs": a.epochs, "epoch_fraction": a.epoch_fraction}, seed=a.seed,
                   device="cpu")
    settle = "fixed T=%d K=%d" % (cfg.rule.free_steps, cfg.rule.nudge_steps)
    if a.mode == "tol":
        cfg = replace(cfg, rule=replace(cfg.rule, settle_tol=a.settle_tol, settle_tol_nudged=a.settle_tol_nudged,
                                        settle_relative=not a.absolute))
        settle = (f"free {a.settle_tol:g}, nudged {a.settle_tol_nudged:g}"
                  f"{' absolute' if a.absolute else ' x max|ds|'} (T<={cfg.rule.free_steps}, K<={cfg.rule.nudge_steps})")
    out = Path(a.out)
    out.parent.mkdir(parents=True, exist_ok=True)

    def on_epoch(r) -> None:
        new = not out.exists()
        with open(out, "a", newline="") as f:
            w = csv.DictWriter(f, FIELDS)
            if new:
                w.writeheader()
            w.writerow({"row": label, "mode": a.mode, "settle": settle, "seed": a.seed, "epoch": r.epoch,
                        "epochs": a.epochs, "epoch_fraction": a.epoch_fraction, "train_acc": f"{r.train_acc:.2f}",
                        "test_acc": f"{r.test_acc:.2f}", "test_loss": f"{r.test_loss:.4f}",
                        "free_steps": f"{r.steps.get('free', cfg.rule.free_steps):.2f}",
                        "nudged_steps": f"{r.steps.get('nudged', cfg.rule.nudge_steps):.2f}",
                        "seconds": f"{r.seconds:.1f}", "threads": a.threads,
                        "when": time.strftime("%Y-%m-%d %H:%M:%S")})
        print(json.dumps({"epoch": r.epoch, "test_acc": r.test_acc, "steps": r.steps, "seconds": round(r.seconds, 1)}),
              flush=True)

    cpu0 = time.process_time()
    result = fit(cfg, progress=False, on_epoch=on_epoch)
    print(f"{label} [{settle}]: status {result.status}, best test {result.best_test_acc:.2f}%, "
          f"wall {result.wall_s:.0f} s, CPU {time.process_time() - cpu0:.0f} s (data loading, training and evaluation)")


if __name__ == "__main__":
    main()
