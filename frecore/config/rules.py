"""The learning rule's settings, one group per rule: what every relaxing rule shares, then EP's and
P-EP's own (BP, FA and LRA have none of their own). RuleConfig is their union, so a run's config keeps
one flat `rule` section (run ids and recorded configs do not change); each rule names its group
(`LearningRule.settings`) and a test checks a rule reads no other group's field. `train --help`
lists the flags under the same groups."""
from __future__ import annotations

import math
from dataclasses import dataclass

from frecore.config.base import (ESTIMATORS, NUDGES, READOUT_ERRORS, ConfigError, _check_bool, _check_scale,
                                 setting)


@dataclass(frozen=True)
class RelaxationSettings:
    """Shared by the rules that relax a net: ep and pep (T, K, the nudge's strength); lra reads beta_f."""

    name: str = setting(
        "ep", "the learning rule, a name in frecore.rules.RULES (ep, bp, fa, lra, pep)", name="--rule")
    free_steps: int = setting(10, "T, free-phase steps", short="-T")
    nudge_steps: int = setting(10, "K, nudged-phase steps", short="-K")
    beta_f: float = setting(
        0.1, "nudging strength: of the output error (ep: 0.1 layered, 0.25 conv), of the cost (pep: beta)")

    def _check_relaxation(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            # known names: frecore.rules.build_rule
            raise ConfigError(f"rule must be a rule's name, got {self.name!r}")
        for name in ("free_steps", "nudge_steps"):
            v = getattr(self, name)
            if not isinstance(v, int) or isinstance(v, bool) or v < 1:
                symbol = "T" if name == "free_steps" else "K"
                raise ConfigError(f"{name} ({symbol}) must be an integer >= 1, got {v!r}")
        _check_scale("beta_f", self.beta_f)


@dataclass(frozen=True)
class EPSettings:
    """Equilibrium propagation's own (frecore.rules.ep): how the nudge enters, which error W_f learns
    from, when a phase may stop early, and the estimator of the update."""

    hold_error: bool = setting(
        False,
        "hold e_p at its free-phase value in the nudged phase (authors' code); default: recompute it each "
        "step (Algorithm 1)")
    nudge: str = setting(
        "constant",
        "ep: beta_f B_f e each step (Algorithm 1); accumulating: k beta_f B_f e_p^0 after k steps (graph "
        "code)",
        choices=NUDGES)
    readout_error: str = setting(
        "free",
        "ep: W_f learns from e_p^0 (Algorithm 1) or from e_p at the end of the nudged phase (graph code)",
        choices=READOUT_ERRORS)
    settle_tol: float | None = setting(
        None,
        "ep: end the free phase once max |s[t+1] - s[t]| < this, T a cap (default: always T steps, as the "
        "paper)")
    settle_tol_nudged: float | None = setting(
        None, "ep: the same for the nudged phase, K a cap (default: always K steps)")
    settle_relative: bool = setting(False, "ep: settle_tol_nudged is relative to the size of ds, max |s[t+1] "
                                           "- s^0|")
    estimator: str = setting(
        "one-sided",
        "ep update: the paper's s^beta - s^0, (s^+beta - s^-beta)/2 from two nudged phases, or one phase at "
        "a seeded random sign",
        choices=ESTIMATORS)

    def _check_ep(self) -> None:
        _check_bool("hold_error", self.hold_error)
        if self.nudge == "accumulating" and self.hold_error:
            raise ConfigError("the accumulating nudge already holds e_p at its free-phase value; drop "
                              "hold_error")
        for name in ("settle_tol", "settle_tol_nudged"):
            v = getattr(self, name)
            if v is not None and (not isinstance(v, (int, float)) or isinstance(v, bool)
                                  or not math.isfinite(v) or v <= 0):
                raise ConfigError(f"{name} must be a finite number > 0 (or None: fixed steps), got {v!r}")
        rule = getattr(self, "name", "ep")
        if (self.settle_tol is not None or self.settle_tol_nudged is not None) and rule != "ep":
            raise ConfigError(f"settle_tol/settle_tol_nudged stop EP's phases early; rule {rule!r} "
                              f"runs its fixed steps (P-EP's relaxation has no tolerance stop)")
        if self.settle_relative and self.settle_tol_nudged is None:
            raise ConfigError("settle_relative qualifies settle_tol_nudged; set settle_tol_nudged too")
        if self.estimator != "one-sided" and rule != "ep":
            raise ConfigError(f"estimator {self.estimator!r} is EP's (rule 'ep'); rule {rule!r} has its own "
                              f"update and takes estimator='one-sided'")


@dataclass(frozen=True)
class PEPSettings:
    """Prototypical EP's own (frecore.rules.pep, Ernoult et al.'s energy-based nets)."""

    pep_nudge: str = setting(
        "activation",
        "pep: beta (y - o) added after sigma (Ernoult et al.) or inside it",
        choices=("activation", "preactivation"))


RULE_SETTINGS = (RelaxationSettings, EPSettings, PEPSettings)  # the groups, in flag-help order


@dataclass(frozen=True)
class RuleConfig(PEPSettings, EPSettings, RelaxationSettings):
    """The learning rule and its settings: the union of the groups above (fields in their order); a
    rule ignores the fields of other rules' groups."""

    def __post_init__(self) -> None:
        from frecore.config.base import _check_choices

        _check_choices(self)
        self._check_relaxation()
        self._check_ep()
