"""State and weight noise for the robustness study (Appendix C.6, Figures S12-S13), drawn from
explicit generators so that a seed gives the same noise on the CPU."""
from __future__ import annotations

from dataclasses import dataclass, field

import torch


@dataclass
class GaussianNoise:
    """N(0, std^2) samples from an explicit generator (on the tensors' device): a fresh draw each
    call, i.e. at every step of every phase (the paper's "time-varying noise")."""

    std: float
    generator: torch.Generator

    def like(self, t: torch.Tensor) -> torch.Tensor:
        return torch.randn(t.shape, generator=self.generator, device=t.device, dtype=t.dtype).mul_(self.std)

    def for_layer(self, layer: int, h: torch.Tensor) -> torch.Tensor:
        """The noise added to layer `layer`'s pre-activation `h` at this step."""
        return self.like(h)

    def new_batch(self) -> None:
        """Called before each batch; nothing to do for noise drawn afresh every step."""


@dataclass
class BatchNoise(GaussianNoise):
    """One draw per layer and batch, added at every step of both phases of that batch
    (NoiseConfig.state_noise_model 'batch'): a fixed perturbation of the bias during a batch."""

    _draws: dict = field(default_factory=dict, repr=False)

    def for_layer(self, layer: int, h: torch.Tensor) -> torch.Tensor:
        d = self._draws.get(layer)
        if d is None or d.shape != h.shape:
            d = self._draws[layer] = self.like(h)
        return d

    def new_batch(self) -> None:
        self._draws = {}


def state_noise(std: float, generator: torch.Generator, model: str = "fresh") -> GaussianNoise | None:
    """The state noise of NoiseConfig (None when std is 0)."""
    if std <= 0:
        return None
    return BatchNoise(std, generator) if model == "batch" else GaussianNoise(std, generator)


@dataclass
class MemberNoise:
    """Each member's own noise for members side by side (frecore.model.members): member m's slice
    of a pre-activation gets member m's draw from member m's generator, the draw its own run would
    make; a member without noise (None) gets exactly 0. `dim`: 0 for (M, B, n) states, 1 for conv
    states (B, M*C, H, W) whose channels hold the members in order."""

    members: list[GaussianNoise | None]
    dim: int = 0

    def _parts(self, h: torch.Tensor) -> tuple[torch.Tensor, ...]:
        return h.unbind(0) if self.dim == 0 else h.chunk(len(self.members), 1)

    def for_layer(self, layer: int, h: torch.Tensor) -> torch.Tensor:
        parts = [torch.zeros_like(p) if n is None else n.for_layer(layer, p)
                 for n, p in zip(self.members, self._parts(h))]
        return torch.stack(parts) if self.dim == 0 else torch.cat(parts, 1)

    def new_batch(self) -> None:
        for n in self.members:
            if n is not None:
                n.new_batch()
