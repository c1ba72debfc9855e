"""Feedback alignment: BP's backward pass through the net's fixed random feedback matrices."""
from __future__ import annotations

from frecore.config import ConfigError, NetConfig
from frecore.model.build import supports
from frecore.rules.base import require_random_feedback
from frecore.rules.bp import Backprop


class FeedbackAlignment(Backprop):
    name = "fa"
    feedback_alignment = True

    def check(self, net_cfg: NetConfig) -> None:
        if not supports(net_cfg, "feedback-alignment"):
            raise ConfigError("rule 'fa' is implemented for layered nets only (arch='layered')")
        require_random_feedback(self.name, net_cfg)
