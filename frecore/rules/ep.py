"""Equilibrium propagation with feedforward and feedback scaling (paper Algorithm 1).

Free phase: T steps from s = 0 under the input drive. Nudged phase: K steps from the free
fixed point with beta_f B_f e_p added to the last hidden layer, e_p = s_tar - s_p (recomputed
each step, or held at its free-phase value with `hold_error`). Local updates, no 1/beta:

    dW_i = ds_{i+1} (s_i^0)^T,  ds = s^beta - s^0   (layer 0's presynaptic term is x)
    dW_f = (s_tar - s_p^0) (s_L^0)^T   (or e_p at the nudged phase's end: RuleConfig.readout_error)

averaged over the batch and handed to the optimizer as the gradient -dW. The conv FRE-RNN
(frecore.conv, Algorithm S2) runs the same two phases through its own step and updates.

With RuleConfig.settle_tol / settle_tol_nudged a phase ends at the first step whose largest state
change is below the tolerance (absolute, or for the nudged phase relative to max |ds| with
settle_relative), T and K then being upper bounds; the steps taken are counted per batch.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from frecore.config import ConfigError, NetConfig, RuleConfig
from frecore.model.conv import ConvFRENet
from frecore.model.dynamics import relax
from frecore.model.layered import LayeredFRENet, State
from frecore.rules.base import BatchStats, batch_stats


class EquilibriumPropagation:
    name = "ep"
    model = "fre"

    def __init__(self, cfg: RuleConfig) -> None:
        self.cfg = cfg
        self._counts = [0, 0, 0]  # free steps, nudged steps, batches since the last take_step_counts

    @property
    def settles(self) -> bool:
        return self.cfg.settle_tol is not None or self.cfg.settle_tol_nudged is not None

    def _count(self, free: int, nudged: int) -> None:
        c = self._counts
        c[0] += free
        c[1] += nudged
        c[2] += 1

    def take_step_counts(self) -> dict[str, float]:
        """Mean free and nudged steps per training batch since the last call, and reset; {} when
        the phases run their fixed T and K (nothing to report)."""
        free, nudged, batches = self._counts
        self._counts = [0, 0, 0]
        if not self.settles or batches == 0:
            return {}
        return {"free": free / batches, "nudged": nudged / batches}

    def check(self, net_cfg: NetConfig) -> None:
        if self.cfg.beta_f <= 0:
            raise ConfigError(f"EP learns from the nudged phase: beta_f must be > 0, got {self.cfg.beta_f!r}")
        if net_cfg.arch == "conv" and self.cfg.nudge != "constant":
            raise ConfigError("the accumulating nudge is the layered graph code's; conv nets take nudge='constant'")

    @torch.no_grad()
    def predict(self, net: LayeredFRENet | ConvFRENet, x: torch.Tensor) -> torch.Tensor:
        if isinstance(net, ConvFRENet):
            return net.logits(net.readout_state(net.relax(net.input_drive(x), self.cfg.free_steps,
                                                          tol=self.cfg.settle_tol)))
        s0 = relax(net, net.input_drive(x), self.cfg.free_steps, tol=self.cfg.settle_tol).state
        return net.logits(s0[-1])

    def _error_of(self, target: torch.Tensor, logits: torch.Tensor) -> torch.Tensor:
        return target - torch.softmax(logits, dim=1)

    @torch.no_grad()
    def conv_phases(self, net: ConvFRENet, x: torch.Tensor, y: torch.Tensor):
        """Algorithm S2: (free relaxation, nudged relaxation, free logits, the e_p W_f learns from)."""
        cfg = self.cfg
        drive = net.input_drive(x)
        free = net.relax(drive, cfg.free_steps, tol=cfg.settle_tol)
        logits0 = net.logits(net.readout_state(free))
        target = F.one_hot(y, logits0.shape[1]).to(logits0.dtype)
        e0 = self._error_of(target, logits0)
        if cfg.hold_error:
            def error(s):
                return e0
        else:
            def error(s):
                return self._error_of(target, net.logits(s[-1]))
        frozen = net.pool_indices_of(free.state) if net.cfg.pool_indices == "free" else None
        nudged = net.relax(drive, cfg.nudge_steps, start=free, error=error, beta_f=cfg.beta_f, frozen_indices=frozen,
                           tol=cfg.settle_tol_nudged, relative_to=free.state if cfg.settle_relative else None)
        self._count(free.steps, nudged.steps)
        e_readout = e0 if cfg.readout_error == "free" else self._error_of(target, net.logits(net.readout_state(nudged)))
        return free, nudged, logits0, e_readout

    @torch.no_grad()
    def phases(self, net: LayeredFRENet, x: torch.Tensor, y: torch.Tensor
               ) -> tuple[State, State, torch.Tensor, torch.Tensor]:
        """(s^0, s^beta, free logits, the e_p W_f learns from) for one batch.

        Nudge modes (RuleConfig.nudge): 'constant' adds beta_f B_f e_p at every nudged step, e_p
        recomputed from the current state (Algorithm 1) or held at e_p^0 (`hold_error`);
        'accumulating' adds k beta_f B_f e_p^0 at step k, as the authors' graph code
        (`models_LN_G.py`) does by adding the nudge to the drive inside its K loop.
        """
        cfg = self.cfg
        drive = net.input_drive(x)  # (B, n_1), constant in both phases
        free = relax(net, drive, cfg.free_steps, tol=cfg.settle_tol)
        s0 = free.state
        logits0 = net.logits(s0[-1])  # (B, n_out)
        target = F.one_hot(y, logits0.shape[1]).to(logits0.dtype)  # s_tar
        e0 = self._error_of(target, logits0)  # e_p at the free fixed point
        f_out = net.output_feedback_operand()  # B_f^T: (n_out, n_L)
        if cfg.nudge == "accumulating":
            unit = (e0 @ f_out).mul_(cfg.beta_f)
            taken = [0]

            def nudge(s: State) -> torch.Tensor:
                taken[0] += 1
                return unit * taken[0]
        elif cfg.hold_error:
            nudge = (e0 @ f_out).mul_(cfg.beta_f)  # (B, n_L), fixed for all K steps
        else:
            def nudge(s: State) -> torch.Tensor:
                return (self._error_of(target, net.logits(s[-1])) @ f_out).mul_(cfg.beta_f)
        nudged = relax(net, drive, cfg.nudge_steps, state=s0, last_input=nudge, tol=cfg.settle_tol_nudged,
                       relative_to=s0 if cfg.settle_relative else None)
        self._count(free.steps, nudged.steps)
        s_beta = nudged.state
        e_readout = e0 if cfg.readout_error == "free" else self._error_of(target, net.logits(s_beta[-1]))
        return s0, s_beta, logits0, e_readout

    @torch.no_grad()
    def compute_gradients(self, net: LayeredFRENet | ConvFRENet, x: torch.Tensor, y: torch.Tensor) -> BatchStats:
        if isinstance(net, ConvFRENet):
            free, nudged, logits0, e_readout = self.conv_phases(net, x, y)
            net.set_ep_gradients(x, free, nudged, e_readout)
            return batch_stats(logits0, y)
        s0, s_beta, logits0, e_readout = self.phases(net, x, y)
        self.set_gradients(net, x, s0, s_beta, e_readout)
        return batch_stats(logits0, y)

    @staticmethod
    @torch.no_grad()
    def set_gradients(net: LayeredFRENet, x: torch.Tensor, s0: State, s_beta: State, e_readout: torch.Tensor) -> None:
        """The local updates of two settled phases, written to `.grad` as -dW (batch mean)."""
        ds = [b - a for a, b in zip(s0, s_beta)]  # ds_j = s_j^beta - s_j^0
        scale = -1.0 / x.shape[0]  # batch mean, as a gradient to descend
        net.w_in.grad = torch.mm(ds[0].t(), x).mul_(scale)  # dW_0 = ds_1 x^T
        for k, b in enumerate(net.topology.blocks):
            if b.forward:
                net.w_blocks[k].grad = torch.mm(ds[b.dst].t(), s0[b.src]).mul_(scale)  # ds_dst (s_src^0)^T
            else:  # a feedback-only block (ordered AGT draw): nothing learns
                net.w_blocks[k].grad = torch.zeros_like(net.w_blocks[k])
        net.w_out.grad = torch.mm(e_readout.t(), s0[-1]).mul_(scale)  # dW_f = e_p (s_L^0)^T
        if net.b_out is not None:
            net.b_out.grad = e_readout.sum(0).mul_(scale)
