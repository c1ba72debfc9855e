"""Figure S10: EP vs BP similarity per layer (8HL, 64 units, first batch, no training).

Not a sweep: `frecore.sweeps.figures.run_figS10` computes it directly from these settings, so this
module registers no experiment."""
from __future__ import annotations

from dataclasses import dataclass

from frecore.config import ConfigError
from frecore.experiments.registry import PROFILES


@dataclass(frozen=True)
class AlignmentSetting:
    panel: str  # which row of Figure S10
    beta: float  # beta_i
    free_steps: int  # T
    nudge_steps: int  # K
    dtype: str = "float32"

    @property
    def label(self) -> str:
        return f"beta_i={self.beta:g}, T={self.free_steps}, K={self.nudge_steps}, {self.dtype}"


def figS10_settings(profile: str) -> list[AlignmentSetting]:
    """Figure S10's panels: T sweeps at beta_i = 1 and 0.1 (a-f), a beta_i sweep at T=50, K=20 in
    float32 (g-i) and float64 (j-l). The paper names T = 20, 50, 500; we pair them with K = T/2.
    The smoke profile drops T = 500."""
    if profile not in PROFILES:
        raise ConfigError(f"unknown profile {profile!r}; choose one of: {', '.join(PROFILES)}")
    ts = (20, 50) if profile == "smoke" else (20, 50, 500)
    out = [AlignmentSetting(f"beta_i={b:g}, several T", b, t, t // 2) for b in (1.0, 0.1) for t in ts]
    for dtype in ("float32", "float64"):
        out += [AlignmentSetting(f"several beta_i, T=50, K=20, {dtype}", b, 50, 20, dtype)
                for b in (1.0, 0.1, 0.01)]
    return out
