"""One registry row in the paper profile, one seed, its learning curve written epoch by epoch.

    python bench/paper_row.py table1 "Conv Ours (hard-sigmoid)" --device cuda --out conv.jsonl
    python bench/paper_row.py table2 "MNIST 10-symm Ours-Residual" --epochs 20

For a lent GPU with minutes to spare: a sweep writes a run's row only when the run ends, so a
run cut short by a time limit leaves nothing; here every epoch is printed and appended to --out
as it finishes (one JSON object per line, the first line the run's config and device), so a
killed run still shows how far it got. Settings are the row's default reading (what produced the
paper's number; `--variant text` for the paper's text); only the seed, --epochs (default: the
paper's) and, to test another reading of the rates, --lr change. On CUDA, TF32 matmuls and
convolutions are off (full float32, as on the CPU) unless --tf32 asks for them; the config line
records which.
"""
from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict
from pathlib import Path

from frecore.config import ConfigError, override
from frecore.training.data import MissingDataError
from frecore.experiments import plan
from frecore.reporting.store import device_name
from frecore.training.train import EpochRecord, resolve_device
from frecore.training.loop import fit


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("experiment")
    p.add_argument("row", help="the row's label, as `python -m frecore list EXPERIMENT` prints it")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--epochs", type=int, default=None, help="default: the paper's")
    p.add_argument("--lr", type=float, nargs="+", default=None,
                   help="replace the row's rates (input -> readout) to test another reading; logged in the config line")
    p.add_argument("--variant", default=None, help="the row's reading: default, code or text")
    p.add_argument("--tf32", action="store_true", help="allow TF32 on CUDA (off by default: full float32)")
    p.add_argument("--device", default="auto")
    p.add_argument("--data-root", default=None)
    p.add_argument("--subset", type=int, default=None, help="first N training and test samples only (tests)")
    p.add_argument("--out", default=None, help="append the curve here as JSON lines")
    a = p.parse_args(argv)
    try:
        (run,) = plan(a.experiment, "paper", rows=[a.row], seeds=[a.seed], device=a.device, data_root=a.data_root,
                      variant=a.variant)
        cfg = run.config
        if a.epochs is not None:
            cfg = override(cfg, optim={"epochs": a.epochs})
        if a.lr is not None:
            cfg = override(cfg, optim={"lr": a.lr[0] if len(a.lr) == 1 else tuple(a.lr)})
        if a.subset is not None:  # for tests
            cfg = override(cfg, data={"train_subset": a.subset, "test_subset": a.subset})
    except ConfigError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    import torch

    torch.backends.cuda.matmul.allow_tf32 = a.tf32
    torch.backends.cudnn.allow_tf32 = a.tf32
    out = Path(a.out) if a.out else None
    device = device_name(str(resolve_device(cfg.device)))

    def emit(obj: dict) -> None:
        line = json.dumps(obj)
        print(line, flush=True)
        if out is not None:
            with out.open("a") as f:
                f.write(line + "\n")

    emit({"experiment": a.experiment, "row": a.row, "reading": run.reading, "seed": a.seed, "device": device,
          "tf32": a.tf32, "epochs": cfg.optim.epochs, "config": cfg.to_dict()})

    def on_epoch(r: EpochRecord) -> None:
        emit({k: v for k, v in asdict(r).items() if k != "probe"})

    try:
        result = fit(cfg, progress=False, on_epoch=on_epoch)
    except MissingDataError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    best = max((r.test_acc for r in result.history), default=float("nan"))
    emit({"status": result.status, "message": result.message, "best_test_acc": best,
          "final_test_acc": result.history[-1].test_acc if result.history else None, "wall_s": result.wall_s})
    return 0 if result.status == "ok" else 1


if __name__ == "__main__":
    sys.exit(main())
