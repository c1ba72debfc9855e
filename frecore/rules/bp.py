"""Backprop on the same net with its feedback removed, under cross-entropy (the paper's BP row)."""
from __future__ import annotations

import torch

from frecore.config import NetConfig, RuleConfig
from frecore.model.layered import LayeredFRENet
from frecore.model.build import build_fre_net
from frecore.model.noise import GaussianNoise
from frecore.rules.base import BatchStats, batch_stats, mean_cross_entropy


class Backprop:
    name = "bp"
    settings = ()  # none of its own: backprop through the feedforward twin
    build_net = staticmethod(build_fre_net)  # trains the FRE-RNN (layered or conv)
    feedback_alignment = False

    def __init__(self, cfg: RuleConfig) -> None:
        self.cfg = cfg

    def check(self, net_cfg: NetConfig) -> None:
        pass

    @torch.no_grad()
    def predict(self, net: LayeredFRENet, x: torch.Tensor,
                noise: GaussianNoise | None = None) -> torch.Tensor:
        return net.feedforward(x)[1]

    def compute_gradients(self, net: LayeredFRENet, x: torch.Tensor, y: torch.Tensor,
                          noise: GaussianNoise | None = None) -> BatchStats:
        weights = net.weights()
        with torch.enable_grad():
            _, logits = net.feedforward(x, feedback_alignment=self.feedback_alignment)
            loss = mean_cross_entropy(logits, y)  # batch mean (per member, side by side)
            # a feedback-only AGT block has no use
            grads = torch.autograd.grad(loss, weights, allow_unused=True)
        for w, g in zip(weights, grads):
            w.grad = torch.zeros_like(w) if g is None else g
        return batch_stats(logits.detach(), y)
