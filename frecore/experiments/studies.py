"""Studies beyond the paper's tables: rows, profiles, resume and the results store like a table's,
run with `python -m frecore run <study>` and `report`, but no figure of the paper, so no notebook.

settle: EP's relaxation stopped when settled against the paper's fixed T/K, on Table 1's 2HL-512 net
(its text reading, T = K = 10) and Table 2's 10-layer residual net (the authors' graph code, T = 100,
K = 50); the mean free and nudged steps per batch are in each epoch's history (docs/speed.md).
conv_cycle: does the conv nudged phase settle as Table 2's MNIST conv net (code reading) learns? The
row as it is, with a damped step, with the unpooling indices frozen at the free phase's, and in the
text's reading (each evaluated on the whole test set), each probed before training and after every
epoch by `conv_cycle_probe` (share of cycling top units, max |s[K] - s[K-2]|, cosine of EP's update
with BP's gradient after K and K + 1 nudged steps; docs/readings.md).
"""
from __future__ import annotations

from frecore.config import override
from frecore.experiments.registry import Row, get_rows, register_experiment

# free-phase tolerance (absolute) -> label; the nudged phase stops at 0.01 x max |ds| (docs/speed.md)
SETTLE_TOLS = {1e-3: "settled, free 1e-3", 1e-4: "settled, free 1e-4"}
SETTLE_NUDGED = 0.01


def _source(experiment: str, label: str) -> Row:
    return {r.label: r for r in get_rows(experiment)}[label]


def _settle_rows(arch: str, source: Row, reading: str, quick_epochs: int,
                 quick_fraction: float) -> list[Row]:
    """The source row's `reading`, fixed and settled; its provenance (where the code reading comes from)."""
    cfg = source.reading_config(reading)[1]
    fixed = f"fixed T={cfg.rule.free_steps}, K={cfg.rule.nudge_steps}"
    kw = dict(quick_fraction=quick_fraction, quick_seeds=(0,), reading=reading, provenance=source.provenance)
    rows = [Row(f"{arch} {fixed}", arch, fixed, cfg, None, quick_epochs, **kw)]
    for tol, approach in SETTLE_TOLS.items():
        settled = override(cfg, rule={"settle_tol": tol, "settle_tol_nudged": SETTLE_NUDGED,
                                      "settle_relative": True})
        rows.append(Row(f"{arch} {approach}", arch, approach, settled, None, quick_epochs, **kw))
    return rows


@register_experiment(study=True)
def settle() -> list[Row]:
    """Settled vs fixed relaxation: quick = 10 epochs of 2HL-512, half an epoch of the 10-layer residual
    net."""
    return (_settle_rows("2HL-512", _source("table1", "2HL Ours (tanh, Adam)"), "text", 10, 1.0)
            + _settle_rows("10-Residual", _source("table2", "MNIST 10-symm Ours-Residual"), "code", 1, 0.5))


CONV_CYCLE_SETTINGS = {  # Table 2's MNIST conv Ours (code reading), changed so; None: the text's reading
    "as is (code reading)": {},
    "damped step g=0.5": {"net": {"damping": 0.5}},
    "indices frozen at the free phase": {"net": {"pool_indices": "free"}},
    "text reading": None,
}


@register_experiment(study=True, probe="conv_cycle")
def conv_cycle() -> list[Row]:
    """The conv nudged phase's cycle as the net learns: quick = 2 epochs of a tenth of MNIST each, one
    seed."""
    row = _source("table2", "MNIST Conv Ours")
    rows = []
    for name, changes in CONV_CYCLE_SETTINGS.items():
        cfg = row.reading_config("text")[1] if changes is None else override(row.config, **changes)
        rows.append(Row(name, "MNIST conv", name, cfg, None, 2, quick_fraction=0.1, quick_seeds=(0,),
                        reading="text" if changes is None else "code", provenance=row.provenance))
    return rows
