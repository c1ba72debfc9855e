"""Write tests/data/smoke_golden.json: the numbers a smoke run of every experiment gives.

A refactor of the nets, rules or training loop must leave results unchanged: the same seed gives
the same numbers (tests/test_golden.py compares). The rows below cover every net (layered,
residual, AGT, conv, prototypical), every rule (EP, BP, FA, LRA, P-EP), the noise models, partial
training (n_ll) and one row of every experiment. Only a deliberate change of the arithmetic
regenerates it, in the same commit as the change, with the reason in the message:

    FRECORE_DATA=../shared/data .venv/bin/python -m tests.record_smoke_golden
"""
from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

from frecore.experiments import get_rows, list_experiments

PATH = Path(__file__).resolve().parent / "data" / "smoke_golden.json"
EXTRA_ROWS = {
    "table1": ["2HL Ours (tanh, Adam)", "2HL BP (tanh, Adam)", "2HL P-EP (sigmoid-s)", "3HL Ours-DLR (tanh)",
               "Conv Ours (hard-sigmoid)", "Conv BP (hard-sigmoid)"],
    "table2": ["MNIST 5-asymm FA", "MNIST 10-symm Ours-Residual", "MNIST 10-asymm Ours-AGT",
               "MNIST Conv Ours"],
    "figS12": ["2HL weight=0.1 state=0.1 noise=batch"],
    "figS11": ["beta=0.1 n_ll=1"],
}


def golden_rows() -> dict[str, list[str]]:
    """experiment -> the rows whose smoke numbers are pinned (the first row, plus EXTRA_ROWS); figures
    whose rows are other experiments' runs (Row.owner: Figures S1-S7) have none of their own."""
    return {name: list(dict.fromkeys([get_rows(name)[0].label, *EXTRA_ROWS.get(name, [])]))
            for name in list_experiments() if not any(r.owner for r in get_rows(name))}


def smoke_numbers(out_dir: str, data_root: str | None = None) -> dict[str, dict[str, dict]]:
    """experiment -> row -> {run_id, status, per-epoch train/test accuracy and loss} of a CPU smoke run."""
    import math

    from frecore.reporting.store import load_runs
    from frecore.sweeps.driver import run_experiment

    out: dict[str, dict[str, dict]] = {}
    for name, rows in golden_rows().items():
        run_experiment(name, "smoke", rows=rows, device="cpu", data_root=data_root, out_dir=out_dir,
                       progress=False)
        runs = load_runs(Path(out_dir) / f"{name}.csv")
        out[name] = {}
        for r in runs.itertuples():
            h = json.loads(r.history)
            out[name][r.row] = {"run_id": r.run_id, "status": r.status,
                                **{k: [None if not math.isfinite(e[k]) else e[k] for e in h]
                                   for k in ("train_acc", "test_acc", "train_loss", "test_loss")}}
    return out


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        numbers = smoke_numbers(tmp, os.environ.get("FRECORE_DATA"))
    PATH.parent.mkdir(parents=True, exist_ok=True)
    PATH.write_text(json.dumps(numbers, indent=1) + "\n")
    print(f"wrote {PATH}")


if __name__ == "__main__":
    main()
