"""What every net offers the rules and the training loop, whatever its family.

The layered and conv FRE-RNNs and P-EP's prototypical nets all implement `Net`: an input drive
computed once per phase, a relaxation (frecore.model.relaxation.iterate behind each one), the
learnable tensors per layer (one optimiser group each). State noise is passed to `relax`, never
stored on the net. The FRE-RNNs also implement `FRENet`: a readout and the feedforward twin
that BP, FA and LRA train. EP's nudge reaches an FRE-RNN's `relax` as one typed `Nudge`; how it
enters is the net's own (the layered net's last layer, the conv net's unpooled readout error).
P-EP's prototypical nets take their own pull of the output layer (frecore.model.prototypical).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Protocol, Sequence, Union, runtime_checkable

import torch
from torch import nn

from frecore.config import NetConfig
from frecore.model.relaxation import Relaxation


@dataclass(frozen=True)
class Nudge:
    """A nudged phase's extra input, beta_f B_f e_p into the top layer (Algorithm 1, S2).

    `error` is e_p of the state a step starts from (the net reads it where its readout does), or a
    fixed tensor, e_p^0 (RuleConfig.hold_error); `accumulating`: step k adds k beta_f B_f e_p^0,
    as the authors' graph code does (a fixed error only). `beta_f` may be signed (random-sign) or
    per member, shaped as the net's member layout takes it (frecore.model.members)."""
    beta_f: Union[float, torch.Tensor]
    error: Union[Callable[[list[torch.Tensor]], torch.Tensor], torch.Tensor]
    accumulating: bool = False

    def error_at(self, state: list[torch.Tensor]) -> torch.Tensor:
        return self.error if isinstance(self.error, torch.Tensor) else self.error(state)


@runtime_checkable
class Net(Protocol):
    cfg: NetConfig

    def input_drive(self, x: torch.Tensor) -> torch.Tensor:
        """The input's constant contribution to the first layer, computed once per phase."""

    def relax(self, drive: torch.Tensor, steps: int, start: Relaxation | None = None,
              **options: Any) -> Relaxation:
        """`steps` synchronous updates from `start` (None: s = 0); `tol=` stops once settled;
        `noise=` (a frecore.model.noise object) perturbs every pre-activation at every step; an
        FRE-RNN takes `nudge=` (a Nudge)."""

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

    def batch_size(self, x: torch.Tensor) -> int:
        """The number of samples in an input batch (per member, side by side)."""

    def local_inputs(self, x: torch.Tensor, free: Relaxation) -> list[torch.Tensor | None]:
        """Each layer's bottom-up input from the free state (no alpha), then the logits: what EP's
        update is the vector-Jacobian product of (frecore.rules.ep.set_ep_gradients)."""

    def local_gradients(self, x: torch.Tensor, free: Relaxation, ds: Sequence[torch.Tensor],
                        e_readout: torch.Tensor) -> list[torch.Tensor]:
        """That product with (ds_1 .. ds_L, e_p), summed over the batch, aligned with weights()."""

    def feedforward(self, x: torch.Tensor, feedback_alignment: bool = False,
                    offsets: Sequence[torch.Tensor] | None = None) -> tuple[list[torch.Tensor], torch.Tensor]:
        """The same net without feedback: (every layer's state, logits), differentiable."""
