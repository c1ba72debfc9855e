"""Learning rules, one file each; add a rule by adding a file and one line here."""
from __future__ import annotations

from frecore.config import ConfigError, RuleConfig
from frecore.rules.base import BatchStats, LearningRule
from frecore.rules.bp import Backprop
from frecore.rules.ep import EquilibriumPropagation
from frecore.rules.fa import FeedbackAlignment
from frecore.rules.lra import LocalRepresentationAlignment
from frecore.rules.pep import PrototypicalEP

RULES: dict[str, type] = {
    "ep": EquilibriumPropagation,
    "bp": Backprop,
    "fa": FeedbackAlignment,
    "pep": PrototypicalEP,
    "lra": LocalRepresentationAlignment,
}


def build_rule(cfg: RuleConfig) -> LearningRule:
    """The rule `cfg.name` names; ConfigError listing the known ones otherwise (configs sit below
    the rules, so this is where a name is checked)."""
    if cfg.name not in RULES:
        raise ConfigError(f"unknown rule {cfg.name!r}; choose one of: {', '.join(RULES)}")
    return RULES[cfg.name](cfg)


__all__ = ["RULES", "build_rule", "BatchStats", "LearningRule"]
