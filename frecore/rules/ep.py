"""Equilibrium propagation with feedforward and feedback scaling (paper Algorithm 1).

Free phase: T steps from s = 0 under the input drive. Nudged phase: K steps from the free
fixed point with beta_f B_f e_p added to the last hidden layer, e_p = s_tar - s_p (recomputed
each step, or held at its free-phase value with `hold_error`). Local updates, no 1/beta:

    dW_i = ds_{i+1} (s_i^0)^T,  ds = s^beta - s^0   (layer 0's presynaptic term is x)
    dW_f = (s_tar - s_p^0) (s_L^0)^T

averaged over the batch and handed to the optimizer as the gradient -dW. The conv FRE-RNN
(frecore.conv, Algorithm S2) runs the same two phases through its own step and updates.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from frecore.config import NetConfig, RuleConfig
from frecore.conv import ConvFRENet
from frecore.dynamics import relax
from frecore.nets import LayeredFRENet, State
from frecore.rules.base import BatchStats, batch_stats


class EquilibriumPropagation:
    name = "ep"
    model = "fre"

    def __init__(self, cfg: RuleConfig) -> None:
        self.cfg = cfg

    def check(self, net_cfg: NetConfig) -> None:
        pass  # any layered net, symmetric or random feedback

    @torch.no_grad()
    def predict(self, net: LayeredFRENet | ConvFRENet, x: torch.Tensor) -> torch.Tensor:
        if isinstance(net, ConvFRENet):
            return net.logits(net.relax(net.input_drive(x), self.cfg.free_steps)[-1])
        s0 = relax(net, net.input_drive(x), self.cfg.free_steps).state
        return net.logits(s0[-1])

    @torch.no_grad()
    def conv_phases(self, net: ConvFRENet, x: torch.Tensor, y: torch.Tensor):
        """Algorithm S2: (s^0, s^beta, free logits, e_p^0) of the conv FRE-RNN."""
        cfg = self.cfg
        drive = net.input_drive(x)
        s0 = net.relax(drive, cfg.free_steps)
        logits0 = net.logits(s0[-1])
        target = F.one_hot(y, logits0.shape[1]).to(logits0.dtype)
        e0 = target - torch.softmax(logits0, dim=1)
        if cfg.hold_error:
            def error(s):
                return e0
        else:
            def error(s):
                return target - torch.softmax(net.logits(s[-1]), dim=1)
        s_beta = net.relax(drive, cfg.nudge_steps, state=s0, error=error, beta_f=cfg.beta_f)
        return s0, s_beta, logits0, e0

    @torch.no_grad()
    def phases(self, net: LayeredFRENet, x: torch.Tensor, y: torch.Tensor
               ) -> tuple[State, State, torch.Tensor, torch.Tensor]:
        """(s^0, s^beta, free logits, free error e_p^0) for one batch."""
        cfg = self.cfg
        drive = net.input_drive(x)  # (B, n_1), constant in both phases
        s0 = relax(net, drive, cfg.free_steps).state
        logits0 = net.logits(s0[-1])  # (B, n_out)
        target = F.one_hot(y, logits0.shape[1]).to(logits0.dtype)  # s_tar
        e0 = target - torch.softmax(logits0, dim=1)  # e_p at the free fixed point
        f_out = net.output_feedback_operand()  # B_f^T: (n_out, n_L)
        if cfg.hold_error:
            nudge = (e0 @ f_out).mul_(cfg.beta_f)  # (B, n_L), fixed for all K steps
        else:
            def nudge(s: State) -> torch.Tensor:
                e = target - torch.softmax(net.logits(s[-1]), dim=1)
                return (e @ f_out).mul_(cfg.beta_f)
        s_beta = relax(net, drive, cfg.nudge_steps, state=s0, last_input=nudge).state
        return s0, s_beta, logits0, e0

    @torch.no_grad()
    def compute_gradients(self, net: LayeredFRENet | ConvFRENet, x: torch.Tensor, y: torch.Tensor) -> BatchStats:
        if isinstance(net, ConvFRENet):
            s0, s_beta, logits0, e0 = self.conv_phases(net, x, y)
            net.set_ep_gradients(x, s0, s_beta, e0)
            return batch_stats(logits0, y)
        s0, s_beta, logits0, e0 = self.phases(net, x, y)
        self.set_gradients(net, x, s0, s_beta, e0)
        return batch_stats(logits0, y)

    @staticmethod
    @torch.no_grad()
    def set_gradients(net: LayeredFRENet, x: torch.Tensor, s0: State, s_beta: State, e0: torch.Tensor) -> None:
        """The local updates of two settled phases, written to `.grad` as -dW (batch mean)."""
        ds = [b - a for a, b in zip(s0, s_beta)]  # ds_j = s_j^beta - s_j^0
        scale = -1.0 / x.shape[0]  # batch mean, as a gradient to descend
        net.w_in.grad = torch.mm(ds[0].t(), x).mul_(scale)  # dW_0 = ds_1 x^T
        for k, b in enumerate(net.topology.blocks):
            net.w_blocks[k].grad = torch.mm(ds[b.dst].t(), s0[b.src]).mul_(scale)  # ds_dst (s_src^0)^T
        net.w_out.grad = torch.mm(e0.t(), s0[-1]).mul_(scale)  # dW_f = e_p^0 (s_L^0)^T
