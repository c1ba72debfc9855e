"""Figure 5: dynamics vs the feedback scaling beta_i (3HL, 64 units), before and after training."""
from __future__ import annotations

from frecore.experiments.common import FIG_BETAS, layered64
from frecore.experiments.registry import Row, register_experiment


@register_experiment(plot="dynamics_vs_beta", probe="dynamics")
def fig5() -> list[Row]:
    """Figure 5: test error, spectral radius, FTMLE and convergence time vs beta_i, before and
    after training (3HL-64). The paper shows curves, not numbers: no paper values."""
    return [Row(f"beta={b:g}", "3HL-64", f"{b:g}", layered64(3, b), None, quick_epochs=10,
                coords={"beta_i": b})
            for b in FIG_BETAS]
