"""What a learning rule is: something that turns (net, batch) into gradients.

A rule fills `.grad` of every learnable weight (a torch.optim optimizer then applies them) and
says how the net predicts. `loop.fit` never branches on a rule's name.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Protocol

import torch
import torch.nn.functional as F

from frecore.config import ConfigError, NetConfig, RuleConfig
from frecore.model.noise import GaussianNoise
from frecore.model.protocol import Net


@dataclass
class BatchStats:
    loss_sum: torch.Tensor  # summed cross-entropy of the prediction made before the update (0-d)
    correct: torch.Tensor  # number of correct predictions (0-d)


class LearningRule(Protocol):
    name: str
    # the RuleConfig groups it reads (frecore.config.rules); tests check it reads no other
    settings: tuple[type, ...]
    build_net: Callable[..., Net]  # (net_cfg, input_shape, n_out, generator, device) -> the net it trains

    def __init__(self, cfg: RuleConfig) -> None: ...

    def check(self, net_cfg: NetConfig) -> None:
        """Raise ConfigError when the rule cannot train this net."""

    def predict(self, net: Net, x: torch.Tensor, noise: GaussianNoise | None = None) -> torch.Tensor:
        """Logits for a batch; the net's inference as this rule defines it."""

    def compute_gradients(self, net: Net, x: torch.Tensor, y: torch.Tensor,
                          noise: GaussianNoise | None = None) -> BatchStats:
        """Fill `.grad` of every weight in net.weights() from one batch (labels y: (B,) int64).
        `noise` is the state noise of the study of Figures S12-S13: rules that relax the net pass it to
        `relax`; the feedforward rules (BP, FA, LRA) have no state dynamics for it to perturb."""


def batch_stats(logits: torch.Tensor, y: torch.Tensor) -> BatchStats:
    """Summed cross-entropy and correct count of a batch; per member ((M,) tensors) for the
    (M, B, n_out) logits of members side by side (frecore.model.members)."""
    with torch.no_grad():
        if logits.dim() == 3:
            return BatchStats(F.cross_entropy(logits.transpose(1, 2), y, reduction="none").sum(-1),
                              (logits.argmax(-1) == y).sum(-1))
        loss = F.cross_entropy(logits, y, reduction="sum")
        correct = (logits.argmax(1) == y).sum()
    return BatchStats(loss, correct)


def mean_cross_entropy(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """The batch-mean cross-entropy; for members side by side the sum of each member's mean, so
    that each member's gradient is that of its own run."""
    if logits.dim() == 3:
        return F.cross_entropy(logits.transpose(1, 2), y, reduction="none").mean(-1).sum()
    return F.cross_entropy(logits, y)


def require_random_feedback(rule: str, net_cfg: NetConfig) -> None:
    if net_cfg.feedback != "random":
        raise ConfigError(f"rule {rule!r} needs fixed random feedback (feedback='random'), "
                          f"got feedback={net_cfg.feedback!r}")
