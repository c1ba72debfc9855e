"""Local representation alignment (LRA, paper Algorithm S1; Ororbia et al. 2023) on layered nets.

One feedforward pass (no feedback), then targets from the top down, each from the error just
below the layer above it:

    e_p = s_tar - softmax(W_f s_L)
    s_L^beta = rho(h_L + beta_LRA B_f e_p),            e_L = s_L^beta - s_L^0
    s_i^beta = rho(h_i + beta_LRA B_i e_{i+1}),        e_i = s_i^beta - s_i^0   (i = L-1 .. 1)

and updates dW_i = e_{i+1} (s_i^0)^T (s_0 = x), dW_f = e_p (s_L^0)^T: the activation derivative
omitted, as LRA does. beta_LRA is RuleConfig.beta_f (0.1). The feedback matrices B are the net's
(tied W^T or fixed random) and do not learn. Written for a leading member dimension as well
(members side by side, frecore.model.members): every transpose is of the last two axes.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from frecore.config.rules import RelaxationSettings
from frecore.config import ConfigError, NetConfig, RuleConfig
from frecore.model.layered import LayeredFRENet, State
from frecore.model.build import build_fre_net, supports
from frecore.model.noise import GaussianNoise
from frecore.rules.base import BatchStats, batch_stats


class LocalRepresentationAlignment:
    name = "lra"
    settings = (RelaxationSettings,)
    build_net = staticmethod(build_fre_net)  # trains the FRE-RNN (layered or conv)

    def __init__(self, cfg: RuleConfig) -> None:
        self.cfg = cfg

    def check(self, net_cfg: NetConfig) -> None:
        if not supports(net_cfg, "lra") or net_cfg.topology != "chain":
            raise ConfigError("rule 'lra' (Algorithm S1) is defined on the layered chain: arch 'layered', "
                              "topology 'chain'")

    @torch.no_grad()
    def predict(self, net: LayeredFRENet, x: torch.Tensor,
                noise: GaussianNoise | None = None) -> torch.Tensor:
        return net.feedforward(x)[1]

    @torch.no_grad()
    def targets(self, net: LayeredFRENet, x: torch.Tensor, y: torch.Tensor
                ) -> tuple[State, list[torch.Tensor], torch.Tensor, torch.Tensor]:
        """(s^0, errors e_1..e_L, e_p, logits) of Algorithm S1 for one batch."""
        beta = self.cfg.beta_f
        s0, logits = net.feedforward(x)
        # h_i^0
        pre = [net.input_drive(x)] + [s0[k] @ net.w_blocks[k].transpose(-1, -2) for k in range(len(s0) - 1)]
        e_p = F.one_hot(y, logits.shape[-1]).to(logits.dtype) - torch.softmax(logits, dim=-1)
        errors: list[torch.Tensor] = [None] * len(s0)  # type: ignore[list-item]
        above = e_p @ net.output_feedback_operand()  # B_f e_p, ([M,] B, n_L)
        for i in reversed(range(len(s0))):
            errors[i] = net.rho.fn(pre[i] + beta * above) - s0[i]
            if i > 0:
                above = errors[i] @ net.feedback_operand(i - 1)  # B_i e_{i+1}, into layer i-1
        return s0, errors, e_p, logits

    def compute_gradients(self, net: LayeredFRENet, x: torch.Tensor, y: torch.Tensor,
                          noise: GaussianNoise | None = None) -> BatchStats:
        s0, errors, e_p, logits = self.targets(net, x, y)
        scale = -1.0 / x.shape[-2]
        with torch.no_grad():
            net.w_in.grad = (errors[0].transpose(-1, -2) @ x).mul_(scale)
            for k in range(len(net.w_blocks)):
                net.w_blocks[k].grad = (errors[k + 1].transpose(-1, -2) @ s0[k]).mul_(scale)
            net.w_out.grad = (e_p.transpose(-1, -2) @ s0[-1]).mul_(scale)
            if net.b_out is not None:
                net.b_out.grad = e_p.sum(-2).mul_(scale)
        return batch_stats(logits, y)
