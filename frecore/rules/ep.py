"""Equilibrium propagation with feedforward and feedback scaling (paper Algorithm 1).

Free phase: T steps from s = 0 under the input drive. Nudged phase: K steps from the free
fixed point with beta_f B_f e_p added to the last hidden layer, e_p = s_tar - s_p (recomputed
each step, or held at its free-phase value with `hold_error`). Local updates, no 1/beta:

    dW_i = ds_{i+1} (s_i^0)^T,  ds = s^beta - s^0   (layer 0's presynaptic term is x)
    dW_f = (s_tar - s_p^0) (s_L^0)^T   (or e_p at the nudged phase's end: RuleConfig.readout_error)

averaged over the batch and handed to the optimizer as the gradient -dW. The conv FRE-RNN
(frecore.model.conv, Algorithm S2) runs the same two phases through its own relaxation: the rule is
written once against the net protocol (the nudge is a typed Nudge the net's `relax` takes; the
update is the vector-Jacobian product of the net's `local_inputs`), for one net and members alike.

With RuleConfig.settle_tol / settle_tol_nudged a phase ends at the first step whose largest state
change is below the tolerance (absolute, or for the nudged phase relative to max |ds| with
settle_relative), T and K then being upper bounds; the steps taken are counted per batch.

Estimators (RuleConfig.estimator) of the same quantity, ds ~ beta_f d s/d beta_f at beta_f = 0,
all at the paper's scale (no 1/beta_f: the update stays ds (s^0)^T, proportional to beta_f):

* 'one-sided' (Algorithm 1): ds = s^beta - s^0, bias O(beta_f^2) in ds (O(beta_f) relative), plus
  whatever the free phase had not settled, which the K more steps of the nudged phase add;
* 'centered': two nudged phases from s^0, at +beta_f and -beta_f, ds = (s^+beta - s^-beta) / 2,
  i.e. (s^+ - s^-) / (2 beta_f) times beta_f: bias O(beta_f^3) (O(beta_f^2) relative), and the
  unsettled free phase's drift cancels; K more steps per batch (Laborieux et al. 2021);
* 'random-sign': one nudged phase at sigma beta_f, sigma = +-1 drawn per batch from the run's
  seeded generator (`seed_streams`), ds = (s^{sigma beta} - s^0) / sigma: the O(beta_f^2) bias
  flips sign with sigma, so it averages out over batches at the one-sided cost.

W_f's update is no state difference: e_p^0 (s_L^0)^T for every estimator. With
readout_error='nudged' it reads the error at the nudged phase's end, e_p^beta = e_p^0 + O(beta_f):
the mean of the two phases' (centered, O(beta_f^2)), or the signed phase's (random-sign).
"""
from __future__ import annotations

from typing import Callable, NamedTuple, Sequence

import torch
import torch.nn.functional as F

from frecore.config.rules import RelaxationSettings, EPSettings
from frecore.config import ConfigError, NetConfig, RuleConfig
from frecore.model.noise import GaussianNoise
from frecore.model.protocol import FRENet, Nudge
from frecore.model.relaxation import Relaxation
from frecore.model.build import build_fre_net, supports
from frecore.rules.base import BatchStats, batch_stats


SIGN_STREAM = 524287  # random-sign's generator: the run's seed + this (a prime below 10^6, as fit's streams)


class Phases(NamedTuple):
    free: Relaxation  # s^0, settled from s = 0
    # s^beta, from s^0 under the nudge (centered: the +beta_f phase; random-sign: sigma beta_f)
    nudged: Relaxation
    logits: torch.Tensor  # the free phase's prediction
    e_readout: torch.Tensor  # the e_p W_f learns from (RuleConfig.readout_error)
    ds: list[torch.Tensor]  # what the update reads per layer: the estimator's state difference (module doc)


class EquilibriumPropagation:
    name = "ep"
    settings = (RelaxationSettings, EPSettings)
    build_net = staticmethod(build_fre_net)  # trains the FRE-RNN (layered or conv)

    def __init__(self, cfg: RuleConfig) -> None:
        self.cfg = cfg
        # a (M, 1, 1) tensor for members side by side (for_members)
        self.beta_f: float | torch.Tensor = cfg.beta_f
        self._counts = [0, 0, 0]  # free steps, nudged steps, batches since the last take_step_counts
        # keep the last batch's phases in `last` (a probe of the per-neuron error sets it)
        self.keep_last = False
        self.last: Phases | None = None
        self.sign_gens: list[torch.Generator] = []  # random-sign: one stream per run (member)
        if cfg.estimator == "random-sign":
            self.seed_streams([0])  # a run reseeds them from its own seed

    def seed_streams(self, seeds: Sequence[int]) -> None:
        """Seed the rule's random streams from the runs' seeds, one per run (members side by side:
        one per member, in order): random-sign's sign generators; nothing for other estimators."""
        if self.cfg.estimator == "random-sign":
            self.sign_gens = [torch.Generator().manual_seed(s + SIGN_STREAM) for s in seeds]

    def draw_signs(self) -> list[float]:
        """One sigma = +-1 per stream (run), for the next batch."""
        return [1.0 - 2.0 * float(torch.randint(0, 2, (1,), generator=g)) for g in self.sign_gens]

    def for_members(self, cfgs: list[RuleConfig], net: torch.nn.Module) -> EquilibriumPropagation:
        """This rule for a stack of members with these settings: each member's own beta_f on its
        slice of the nudge when they differ (layered nets; frecore.model.build.ARCH_SUPPORTS)."""
        values = [c.beta_f for c in cfgs]
        if all(v == values[0] for v in values):
            return self
        rule = EquilibriumPropagation(self.cfg)  # fit_members seeds its streams
        rule.beta_f = member_factor(net, values, -1)
        return rule

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
        if self.cfg.nudge != "constant" and not supports(net_cfg, "accumulating-nudge"):
            raise ConfigError("the accumulating nudge is the layered graph code's; conv nets take "
                              "nudge='constant'")

    @torch.no_grad()
    def predict(self, net: FRENet, x: torch.Tensor, noise: GaussianNoise | None = None) -> torch.Tensor:
        free = net.relax(net.input_drive(x), self.cfg.free_steps, tol=self.cfg.settle_tol, noise=noise)
        return net.logits(net.readout_state(free))

    def _error_of(self, target: torch.Tensor, logits: torch.Tensor) -> torch.Tensor:
        return target - torch.softmax(logits, dim=-1)

    @torch.no_grad()
    def phases(self, net: FRENet, x: torch.Tensor, y: torch.Tensor,
               noise: GaussianNoise | None = None) -> Phases:
        """The free and the nudged relaxation of one batch (Algorithm 1; Algorithm S2 for the conv
        net), the free logits and the e_p W_f learns from.

        Nudge modes (RuleConfig.nudge): 'constant' adds beta_f B_f e_p at every nudged step, e_p
        recomputed from the current state (Algorithm 1) or held at e_p^0 (`hold_error`);
        'accumulating' adds k beta_f B_f e_p^0 at step k, as the authors' graph code
        (`models_LN_G.py`) does by adding the nudge to the drive inside its K loop.
        """
        cfg = self.cfg
        drive = net.input_drive(x)  # constant in both phases
        free = net.relax(drive, cfg.free_steps, tol=cfg.settle_tol, noise=noise)
        logits0 = net.logits(net.readout_state(free))
        target = F.one_hot(y, logits0.shape[-1]).to(logits0.dtype)  # s_tar
        e0 = self._error_of(target, logits0)  # e_p at the free fixed point
        accumulating = cfg.nudge == "accumulating"

        def error(s: list[torch.Tensor]) -> torch.Tensor:
            return self._error_of(target, net.logits(s[-1]))

        def nudged_at(beta_f: float | torch.Tensor) -> Relaxation:
            """The nudged phase from s^0 at this (signed) beta_f."""
            nudge = Nudge(beta_f, e0 if cfg.hold_error or accumulating else error, accumulating)
            return net.relax(drive, cfg.nudge_steps, start=free, nudge=nudge, tol=cfg.settle_tol_nudged,
                             relative_to=free.state if cfg.settle_relative else None, noise=noise)

        def end_error(r: Relaxation) -> torch.Tensor:
            return self._error_of(target, net.logits(net.readout_state(r)))

        return self._estimate(net, free, logits0, e0, nudged_at, end_error)

    def _estimate(self, net: FRENet, free: Relaxation, logits0: torch.Tensor, e0: torch.Tensor,
                  nudged_at: Callable[[float | torch.Tensor], Relaxation],
                  end_error: Callable[[Relaxation], torch.Tensor]) -> Phases:
        """The nudged phase(s) the estimator asks for, from the free state, and the ds it reads
        (module doc); every net's phases end here, so each estimator is written once."""
        cfg = self.cfg
        s0 = free.state
        if cfg.estimator == "centered":
            nudged, opposite = nudged_at(self.beta_f), nudged_at(-self.beta_f)
            ds = [(p - m).mul_(0.5) for p, m in zip(nudged.state, opposite.state)]  # (s^+ - s^-) / 2
            runs = [nudged, opposite]
        elif cfg.estimator == "random-sign":
            signs = self.draw_signs()
            nudged = nudged_at(self.beta_f * member_factor(net, signs, -1))
            ds = [(b - a).div_(member_factor(net, signs, j))
                  for j, (a, b) in enumerate(zip(s0, nudged.state))]
            runs = [nudged]
        else:
            nudged = nudged_at(self.beta_f)
            ds = [b - a for a, b in zip(s0, nudged.state)]  # ds_j = s_j^beta - s_j^0
            runs = [nudged]
        self._count(free.steps, sum(r.steps for r in runs))
        if cfg.readout_error == "free":
            e_readout = e0
        else:
            ends = [end_error(r) for r in runs]
            e_readout = ends[0] if len(ends) == 1 else (ends[0] + ends[1]).mul_(0.5)
        return Phases(free, nudged, logits0, e_readout, ds)

    @torch.no_grad()
    def compute_gradients(self, net: FRENet, x: torch.Tensor, y: torch.Tensor,
                          noise: GaussianNoise | None = None) -> BatchStats:
        p = self.phases(net, x, y, noise)
        if self.keep_last:
            self.last = p
        set_ep_gradients(net, x, p.free, p.ds, p.e_readout)
        return batch_stats(p.logits, y)


def member_factor(net: FRENet, values: list[float], layer: int) -> float | torch.Tensor:
    """One value per run (random-sign's sigma, a member's beta_f) as a factor of layer `layer`'s
    state (-1: the top): the float itself for one net; for members side by side, shaped as their
    layout takes it (MemberStack.member_factor)."""
    members = getattr(net, "m", 1)  # a MemberStack's member count
    if len(values) != members:
        raise ConfigError(f"{len(values)} values for {members} member(s): seed_streams takes one seed "
                          f"per run")
    return values[0] if members == 1 else net.member_factor(values, layer)


@torch.no_grad()
def set_ep_gradients(net: FRENet, x: torch.Tensor, free: Relaxation, ds: list[torch.Tensor],
                     e_readout: torch.Tensor) -> None:
    """EP's local updates from the free phase and the estimator's ds (Phases.ds), written to
    `.grad` as -dW (batch mean), for every net alike: the vector-Jacobian product of the net's
    bottom-up inputs from the free state with (ds_1 .. ds_L, e_p) (`local_inputs`, computed by
    `local_gradients`), i.e. dW_i = ds_dst (s_src^0)^T, dW_0 = ds_1 x^T, dW_f = e_p (s_L^0)^T."""
    scale = -1.0 / net.batch_size(x)  # batch mean, as a gradient to descend
    for w, g in zip(net.weights(), net.local_gradients(x, free, ds, e_readout)):
        w.grad = g.mul_(scale)
