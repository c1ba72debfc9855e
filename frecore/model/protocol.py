"""What every net offers the rules and the training loop, whatever its family.

The layered and conv FRE-RNNs and P-EP's prototypical nets all implement `Net`: an input drive
computed once per phase, a relaxation (frecore.model.relaxation.iterate behind each one), the
learnable tensors per layer (one optimiser group each). State noise is passed to `relax`, never
stored on the net. The FRE-RNNs also implement `FRENet`: a readout and the feedforward twin
that BP, FA and LRA train. How a nudge enters the dynamics differs between families (a last-layer
input, an unpooled readout error, a pull of the output layer), so `relax` takes it as keywords
of the net's own; each rule knows the nets it trains (frecore.rules).
"""
from __future__ import annotations

from typing import Any, Protocol, Sequence, runtime_checkable

import torch
from torch import nn

from frecore.config import NetConfig
from frecore.model.relaxation import Relaxation


@runtime_checkable
class Net(Protocol):
    cfg: NetConfig

    def input_drive(self, x: torch.Tensor) -> torch.Tensor:
        """The input's constant contribution to the first layer, computed once per phase."""

    def relax(self, drive: torch.Tensor, steps: int, start: Relaxation | None = None, **nudge: Any) -> Relaxation:
        """`steps` synchronous updates from `start` (None: s = 0); `tol=` stops once settled;
        `noise=` (a frecore.model.noise object) perturbs every pre-activation at every step."""

    def weights(self) -> list[nn.Parameter]:
        """Every learnable tensor, input -> output."""

    def layer_params(self) -> list[list[nn.Parameter]]:
        """The learnable tensors per layer, input -> output: one optimiser group each."""


@runtime_checkable
class FRENet(Net, Protocol):
    def readout_state(self, relaxation: Relaxation) -> torch.Tensor:
        """The top layer's state the readout reads from a relaxation."""

    def logits(self, s_top: torch.Tensor) -> torch.Tensor:
        """The readout W_f s_L (+ b_f) of the top layer's state."""

    def feedforward(self, x: torch.Tensor, feedback_alignment: bool = False,
                    offsets: Sequence[torch.Tensor] | None = None) -> tuple[list[torch.Tensor], torch.Tensor]:
        """The same net without feedback: (every layer's state, logits), differentiable."""
