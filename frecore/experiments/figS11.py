"""Figure S11: only the last n weight matrices learn (5HL-64)."""
from __future__ import annotations

from frecore.config import override
from frecore.experiments.common import layered64
from frecore.experiments.registry import Row, register_experiment


@register_experiment(plot="accuracy_vs_trained_layers")
def figS11() -> list[Row]:
    """Figure S11: n_ll = 1 trains only the readout W_f, n_ll = 6 trains all six matrices of the
    5-hidden-layer net (W_0..W_4, W_f). beta_i in {0.1, 0.01}."""
    return [Row(f"beta={b:g} n_ll={n}", f"5HL-64, beta_i={b:g}", f"{n}",
                override(layered64(5, b), optim={"train_last": n}), None, quick_epochs=3,
                coords={"beta_i": b, "n_ll": n})
            for b in (0.1, 0.01) for n in range(1, 7)]
