"""Train one registered row's run in another precision, to tell a rounding effect from a device one.

Table 2's plain 10-symm chain trains worse in the CPU's float32 than on a GPU (docs/readings.md).
This trains the row's paper-profile run for one seed exactly as registered but for `dtype`,
checkpointed after every epoch (run it again to continue after a stop), and prints one line per
epoch; the finished run's curve goes to OUT/curve.csv. It writes nothing to the results store: the
run is a control, not the row.

    OMP_NUM_THREADS=1 python bench/precision_control.py --experiment table2 \
        --row "MNIST 10-symm Ours" --seed 0 --dtype float64 --out results/campaign/control-10symm-f64
"""
from __future__ import annotations

import argparse
import csv
import os
import sys
import time
from pathlib import Path

from frecore.config import ConfigError, override
from frecore.experiments.registry import discover, plan
from frecore.training.loop import fit
from frecore.training.train import RunPaused


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--experiment", default="table2")
    ap.add_argument("--row", default="MNIST 10-symm Ours")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--dtype", default="float64", choices=("float32", "float64"))
    ap.add_argument("--epochs", type=int, default=None, help="default: the paper's")
    ap.add_argument("--budget-min", type=float, default=None,
                    help="stop (checkpointed) before an epoch that would end after this many minutes")
    ap.add_argument("--out", required=True, help="folder for checkpoint.pt and curve.csv")
    ap.add_argument("--train-subset", type=int, default=None, help="train on the first N images (a check)")
    ap.add_argument("--test-subset", type=int, default=None, help="test on the first N images (a check)")
    args = ap.parse_args(argv)
    if args.budget_min is not None and not args.budget_min > 0:
        print(f"error: --budget-min must be > 0, got {args.budget_min}", file=sys.stderr)
        return 2
    try:
        discover()
        (run,) = plan(args.experiment, "paper", rows=[args.row], seeds=[args.seed], device="cpu",
                      data_root=os.environ.get("FRECORE_DATA"))
        cfg = override(run.config, net={"dtype": args.dtype})
        if args.epochs is not None:
            cfg = override(cfg, optim={"epochs": args.epochs})
        if args.train_subset or args.test_subset:
            cfg = override(cfg, data={"train_subset": args.train_subset, "test_subset": args.test_subset})
    except (ConfigError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    out = Path(args.out)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        print(f"error: cannot make {out}: {e.strerror or e}", file=sys.stderr)
        return 2
    print(f"{run.experiment} / {run.row.label} seed {args.seed}, {args.dtype}, {cfg.optim.epochs} epochs "
          f"(paper-profile run id {run.run_id} in float32)", flush=True)
    until = time.time() + 60 * args.budget_min if args.budget_min else None

    def line(rec) -> None:
        if rec is None:  # the epoch went non-finite: fit ends the run as diverged
            return
        print(f"epoch {rec.epoch:3d}  train {rec.train_acc:6.2f}  test {rec.test_acc:6.2f}  "
              f"loss {rec.train_loss:.4f}  {rec.seconds:6.1f} s", flush=True)

    try:
        result = fit(cfg, progress=False, on_epoch=line, checkpoint=out / "checkpoint.pt", until=until)
    except RunPaused as p:
        print(f"paused: {p}", flush=True)
        return 0
    except (ConfigError, OSError) as e:  # missing data (FileNotFoundError), an unwritable folder
        print(f"error: {e}", file=sys.stderr)
        return 2
    with open(out / "curve.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["epoch", "train_loss", "train_acc", "test_loss", "test_acc", "seconds"])
        for r in result.history:
            w.writerow([r.epoch, r.train_loss, r.train_acc, r.test_loss, r.test_acc, r.seconds])
    if not result.history:
        print(f"done: status {result.status}, no epoch finished ({result.message})", flush=True)
        return 0
    best = max(r.test_acc for r in result.history)
    print(f"done: status {result.status}, best {best:.2f}%, final {result.history[-1].test_acc:.2f}%"
          + (f" ({result.message})" if result.message else ""), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
