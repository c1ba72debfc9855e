"""Figure 6: test error vs epoch, for T at several beta_i and for beta_i at several depths."""
from __future__ import annotations

from frecore.config import override
from frecore.experiments.common import FIG_BETAS, layered64
from frecore.experiments.registry import Row, register_experiment


FIG6_TS = (10, 20, 50, 100)
FIG6_T_BETAS = (0.01, 0.1, 1.0, 4.0)
FIG6_DEPTHS = (2, 3, 5, 10)


@register_experiment(plot="error_curves")
def fig6() -> list[Row]:
    """Figure 6 (a-d): 2HL-64 with T in {10, 20, 50, 100}, K = T/2, one panel per beta_i;
    (e-h): the beta_i sweep at 2, 3, 5 and 10 hidden layers with T = 10 L, K = 5 L."""
    rows = []
    for b in FIG6_T_BETAS:
        for t in FIG6_TS:
            cfg = override(layered64(2, b), rule={"free_steps": t, "nudge_steps": t // 2})
            rows.append(Row(f"2HL beta={b:g} T={t}", f"2HL-64, beta_i={b:g}", f"T={t}", cfg, None,
                            quick_epochs=4, coords={"depth": 2, "beta_i": b, "T": t}))
    for depth in FIG6_DEPTHS:
        lr = 1e-3 if depth <= 5 else 5e-4  # the authors halve the rate above 5 layers
        for b in FIG_BETAS:
            cfg = override(layered64(depth, b), optim={"lr": lr})
            rows.append(Row(f"{depth}HL beta={b:g}", f"{depth}HL-64", f"beta_i={b:g}", cfg, None,
                            quick_epochs=4 if depth < 10 else 2,  # 10HL: ~18 s per epoch on 2 CPU cores
                            coords={"depth": depth, "beta_i": b, "T": 10 * depth}))
    return rows
