"""Prototypical EP (Ernoult et al. 2019), the baseline of Table 1: see frecore.model.prototypical.

Free phase: T steps from s = 0. Nudged phase: K steps from the free fixed point with the
output pulled towards y by beta (y - o), after or inside sigma (RuleConfig.pep_nudge;
beta = RuleConfig.beta_f). Update:
(1/beta)(dPhi/dtheta(s^beta) - dPhi/dtheta(s^0)), through SGD with per-layer rates.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from frecore.config.rules import RelaxationSettings, PEPSettings
from frecore.config import ConfigError, NetConfig, RuleConfig
from frecore.model.build import build_prototypical_net
from frecore.model.noise import GaussianNoise
from frecore.model.prototypical import PrototypicalNet, PState, check_prototypical
from frecore.rules.base import BatchStats, batch_stats


class PrototypicalEP:
    name = "pep"
    settings = (RelaxationSettings, PEPSettings)
    build_net = staticmethod(build_prototypical_net)  # P-EP trains its own energy-based nets, not the FRE-RNN

    def __init__(self, cfg: RuleConfig) -> None:
        self.cfg = cfg

    def check(self, net_cfg: NetConfig) -> None:
        if self.cfg.beta_f <= 0:
            raise ConfigError(f"P-EP divides by its nudging strength: beta_f must be > 0, got "
                              f"{self.cfg.beta_f!r}")
        check_prototypical(net_cfg)

    @torch.no_grad()
    def predict(self, net: PrototypicalNet, x: torch.Tensor,
                noise: GaussianNoise | None = None) -> torch.Tensor:
        """The output layer's activity at the free fixed point (used as class scores)."""
        return net.output(net.relax(net.input_drive(x), self.cfg.free_steps, noise=noise).state)

    @torch.no_grad()
    def phases(self, net: PrototypicalNet, x: torch.Tensor, y: torch.Tensor,
               noise: GaussianNoise | None = None) -> tuple[PState, PState]:
        drive = net.input_drive(x)
        free = net.relax(drive, self.cfg.free_steps, noise=noise)
        target = F.one_hot(y, net.output(free.state).shape[-1]).to(drive.dtype)
        nudged = net.relax(drive, self.cfg.nudge_steps, start=free, target=target, beta=self.cfg.beta_f,
                           nudge=self.cfg.pep_nudge, noise=noise)
        return free.state, nudged.state

    def compute_gradients(self, net: PrototypicalNet, x: torch.Tensor, y: torch.Tensor,
                          noise: GaussianNoise | None = None) -> BatchStats:
        s0, s_beta = self.phases(net, x, y, noise)
        set_contrastive_gradients(net, x, s0, s_beta, self.cfg.beta_f)
        return batch_stats(net.output(s0), y)


@torch.no_grad()
def set_contrastive_gradients(net: PrototypicalNet, x: torch.Tensor, s0: PState, s_beta: PState,
                              beta: float) -> None:
    """-(1/beta)(dPhi/dtheta(s^beta) - dPhi/dtheta(s^0)) as `.grad` (batch mean; per member for
    members side by side, whose Phi sums to each member's own)."""
    params = net.weights()
    with torch.enable_grad():
        free = torch.autograd.grad(net.primitive(x, s0).sum(), params)
        nudged = torch.autograd.grad(net.primitive(x, s_beta).sum(), params)
    scale = -1.0 / (beta * x.shape[-2])
    for p, a, b in zip(params, free, nudged):
        p.grad = (b - a).mul_(scale)
