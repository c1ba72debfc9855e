"""Figure 4: accuracy over an alpha_i x beta_i grid (2, 3, 5 hidden layers of 64)."""
from __future__ import annotations

from frecore.config import override
from frecore.experiments.common import layered64
from frecore.experiments.registry import Row, register_experiment


FIG4_ALPHAS = (0.25, 0.5, 1.0, 2.0, 4.0)  # below 1 weakens the forward signal, above 1 saturates
FIG4_BETAS = (0.001, 0.01, 0.1, 1.0)
FIG4_DEPTHS = (2, 3, 5)


@register_experiment(plot="alpha_beta_heatmaps")
def fig4() -> list[Row]:
    """Figure 4: EP accuracy for every (alpha_i, beta_i) pair; the paper shows a heat map only."""
    rows = []
    for depth in FIG4_DEPTHS:
        for a in FIG4_ALPHAS:
            for b in FIG4_BETAS:
                cfg = override(layered64(depth, b), net={"alpha": a})
                rows.append(Row(f"{depth}HL alpha={a:g} beta={b:g}", f"{depth}HL-64",
                                f"alpha={a:g}, beta={b:g}", cfg, None, quick_epochs=2,
                                coords={"depth": depth, "alpha_i": a, "beta_i": b}))
    return rows
