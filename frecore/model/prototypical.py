"""Prototypical EP (P-EP): Ernoult et al. (2019)'s discrete-time energy-based networks.

What the paper compares against, so everything differs from the FRE-RNN on purpose: the output
layer is inside the dynamics, every weight is used in both directions at full strength
(symmetric, no beta_i), every layer has a bias, and the cost is the squared error
C = 1/2 |y - o|^2. With the primitive function

    Phi(x, s) = sum_j s_j . Fwd_j(s_{j-1}) + sum_j b_j . s_j      (s_0 = x, the last s_j = o)

(Fwd_j = W_{j-1} s_{j-1} for dense layers, MaxPool(W_{j-1} * s_{j-1}) for conv layers) a step is
s <- sigma(dPhi/ds), and the nudged phase pulls the output towards y with strength beta, in one of
two places (RuleConfig.pep_nudge):

* "activation" (default; Ernoult et al.'s code): o <- sigma(dPhi/do) + beta (y - o). Saturated
  outputs still feel the target.
* "preactivation": o <- sigma(dPhi/do + beta (y - o)). Fixed points are then exactly the
  stationary points of E + beta C with E = sum G(s) - Phi, G' = sigma^-1, so the contrastive update

    dtheta = (1/beta) (dPhi/dtheta(s^beta) - dPhi/dtheta(s^0))

  tends to -dC/dtheta at the free fixed point as beta -> 0 (tests/test_prototypical.py checks it
  against finite differences). The two agree where sigma' = 1 (hard-sigmoid's linear range).
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from frecore.model.activations import get_activation
from frecore.config import ConfigError, NetConfig
from frecore.model.conv import conv_shapes
# Ernoult et al.'s init: Glorot makes the conv dynamics oscillate
from frecore.model.init import torch_default_init
from frecore.model.init import TORCH_DTYPES
from frecore.model.noise import GaussianNoise
from frecore.model.relaxation import Relaxation, iterate

PState = list[torch.Tensor]  # hidden layers, then the output layer o (B, n_out)


def _primitive_inverse(activation: str, s: torch.Tensor) -> torch.Tensor:
    """G(s) with G' = sigma^-1, summed per sample: the 'integral' term of the energy."""
    if activation == "sigmoid-s":  # sigma^-1(s) = 1/2 + log(s / (1 - s)) / 4
        s = s.clamp(1e-12, 1 - 1e-12)
        g = 0.5 * s + 0.25 * (s * s.log() + (1 - s) * (1 - s).log())
    elif activation == "hard-sigmoid":  # identity on [0, 1]
        g = 0.5 * s * s
    else:
        raise ConfigError(f"P-EP needs sigmoid-s or hard-sigmoid, got {activation!r}")
    return g.flatten(1).sum(1)


def check_prototypical(cfg: NetConfig) -> None:
    """ConfigError unless P-EP can run this net: symmetric weights, sigmoid-s or hard-sigmoid."""
    if cfg.feedback != "symmetric":
        raise ConfigError("P-EP is energy-based: it needs symmetric weights (feedback='symmetric')")
    if cfg.activation not in ("sigmoid-s", "hard-sigmoid"):
        raise ConfigError(f"P-EP uses sigmoid-s (dense) or hard-sigmoid (conv), got "
                          f"activation={cfg.activation!r}")
    if cfg.topology != "chain":
        raise ConfigError(f"P-EP nets are chains; got topology={cfg.topology!r}")


class PrototypicalNet(nn.Module):
    """What the dense and conv P-EP nets share: relaxation and energy."""

    n_layers: int  # dynamical layers, the output included

    def _setup(self, cfg: NetConfig) -> None:
        check_prototypical(cfg)
        self.cfg = cfg
        self.rho = get_activation(cfg.activation)

    def weights(self) -> list[nn.Parameter]:
        return [p for group in self.layer_params() for p in group]

    def layer_params(self) -> list[list[nn.Parameter]]:
        """Per layer, input -> output: [W_{j-1}, b_j]."""
        return [[w, b] for w, b in zip(self.ws, self.bs)]

    def relax(self, drive: torch.Tensor, steps: int, start: Relaxation[PState] | None = None,
              target: torch.Tensor | None = None, beta: float = 0.0, nudge: str = "activation",
              tol: float | None = None, record: bool = False,
              noise: GaussianNoise | None = None) -> Relaxation[PState]:
        """`steps` synchronous updates s <- sigma(dPhi/ds), the output nudged towards `target` with
        strength `beta` after ("activation") or inside ("preactivation") sigma; `start=None`: zeros."""
        nudged = target is not None and beta != 0.0

        def step(state: PState | None, previous: PState | None) -> PState:
            if state is None:
                state = self.zero_state(drive)
            h = self.gradient_phi(drive, state)
            if nudged and nudge == "preactivation":
                h[-1] = h[-1] + beta * (target - state[-1])
            if noise is not None:
                h = [hj + noise.for_layer(j, hj) for j, hj in enumerate(h)]
            new = [self.rho.inplace(hj) for hj in h]
            if nudged and nudge == "activation":
                new[-1] = new[-1] + beta * (target - state[-1])
            return new

        return iterate(step, steps, start, tol=tol, record=record)

    def energy(self, x: torch.Tensor, state: PState) -> torch.Tensor:
        """E(s) = sum G(s_j) - Phi(x, s), per sample: stationary exactly at the free fixed points."""
        g = sum(_primitive_inverse(self.cfg.activation, s) for s in state)
        return g - self.primitive(x, state)


class LayeredPrototypicalNet(PrototypicalNet):
    """Dense P-EP: x -> s_1 .. s_L -> o, all layers (the output too) inside the dynamics."""

    def __init__(self, cfg: NetConfig, n_in: int, n_out: int, generator: torch.Generator) -> None:
        super().__init__()
        self._setup(cfg)
        dtype = TORCH_DTYPES[cfg.dtype]
        sizes = (n_in, *cfg.hidden, n_out)
        self.ws = nn.ParameterList([nn.Parameter(torch_default_init((o, i), i, generator, dtype))
                                    for i, o in zip(sizes[:-1], sizes[1:])])  # W_{j-1}: (n_j, n_{j-1})
        self.bs = nn.ParameterList([nn.Parameter(torch_default_init((o,), i, generator, dtype))
                                    for i, o in zip(sizes[:-1], sizes[1:])])
        self.sizes = sizes[1:]
        self.n_layers = len(self.sizes)

    affine = staticmethod(torch.addmm)  # c + a @ b; members side by side (a leading member dim): baddbmm

    def bias(self, j: int) -> torch.Tensor:
        """b_j as it is added to layer j's pre-activation."""
        return self.bs[j]

    def input_drive(self, x: torch.Tensor) -> torch.Tensor:
        return x @ self.ws[0].transpose(-1, -2)

    def zero_state(self, drive: torch.Tensor) -> PState:
        return [drive.new_zeros(*drive.shape[:-1], n) for n in self.sizes]

    def gradient_phi(self, drive: torch.Tensor, state: PState) -> list[torch.Tensor]:
        """dPhi/ds_j = W_{j-1} s_{j-1} + W_j^T s_{j+1} + b_j, every layer from the same state."""
        h = []
        for j in range(self.n_layers):
            hj = (drive + self.bias(0) if j == 0
                  else self.affine(self.bias(j), state[j - 1], self.ws[j].transpose(-1, -2)))
            if j + 1 < self.n_layers:
                hj = self.affine(hj, state[j + 1], self.ws[j + 1])
            h.append(hj)
        return h

    def primitive(self, x: torch.Tensor, state: PState) -> torch.Tensor:
        """Phi per sample."""
        below = [x, *state[:-1]]
        return sum(((b @ w.t()) * s).sum(1) + s @ bias
                   for w, bias, b, s in zip(self.ws, self.bs, below, state))

    def output(self, state: PState) -> torch.Tensor:
        return state[-1]


class ConvPrototypicalNet(PrototypicalNet):
    """Conv P-EP (Ernoult et al. 2019): s_j = sigma(MaxPool(W_{j-1} * s_{j-1}) + ConvT-back + b_j),
    states at pooled resolution, then a dense output layer inside the dynamics."""

    def __init__(self, cfg: NetConfig, input_shape: tuple[int, ...], n_out: int,
                 generator: torch.Generator) -> None:
        super().__init__()
        self._setup(cfg)
        dtype = TORCH_DTYPES[cfg.dtype]
        self.input_shape = tuple(input_shape)
        self.pre_pool = conv_shapes(cfg, self.input_shape)  # conv outputs, before pooling
        self.shapes = [(c, h // 2, w // 2) for c, h, w in self.pre_pool]  # the states
        in_ch = (self.input_shape[0], *cfg.channels[:-1])
        k2 = cfg.kernel * cfg.kernel
        convs = [nn.Parameter(torch_default_init((o, i, cfg.kernel, cfg.kernel), i * k2, generator, dtype))
                 for i, o in zip(in_ch, cfg.channels)]
        n_top = math.prod(self.shapes[-1])
        self.ws = nn.ParameterList(
            [*convs, nn.Parameter(torch_default_init((n_out, n_top), n_top, generator, dtype))])
        self.bs = nn.ParameterList([nn.Parameter(torch_default_init((o, 1, 1), i * k2, generator, dtype))
                                    for i, o in zip(in_ch, cfg.channels)]
                                   + [nn.Parameter(torch_default_init((n_out,), n_top, generator, dtype))])
        self.n_out = n_out
        self.n_layers = len(cfg.channels) + 1

    def _pool_conv(self, j: int, below: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """MaxPool(W_{j} * below) and its argmax indices."""
        return F.max_pool2d(F.conv2d(below, self.ws[j], padding=self.cfg.padding), 2, return_indices=True)

    def input_drive(self, x: torch.Tensor) -> torch.Tensor:
        return self._pool_conv(0, x.view(x.shape[0], *self.input_shape))[0]

    def zero_state(self, drive: torch.Tensor) -> PState:
        batch = drive.shape[0]
        return [drive.new_zeros(batch, *s) for s in self.shapes] + [drive.new_zeros(batch, self.n_out)]

    def gradient_phi(self, drive: torch.Tensor, state: PState) -> list[torch.Tensor]:
        n_conv = len(self.shapes)
        ups = [self._pool_conv(j, state[j - 1]) for j in range(1, n_conv)]  # layer j's forward input, j >= 1
        h = []
        for j in range(n_conv):
            hj = (drive if j == 0 else ups[j - 1][0]) + self.bs[j]
            # d/ds_j of s_{j+1} . MaxPool(W_j * s_j): unpool at the current argmax, then ConvT
            if j + 1 < n_conv:
                back = F.max_unpool2d(state[j + 1], ups[j][1], 2, output_size=self.pre_pool[j + 1][-2:])
                hj = hj + F.conv_transpose2d(back, self.ws[j + 1], padding=self.cfg.padding)
            else:
                hj = hj + (state[-1] @ self.ws[-1]).view_as(hj)
            h.append(hj)
        h.append(torch.addmm(self.bs[-1], state[n_conv - 1].flatten(1), self.ws[-1].t()))
        return h

    def primitive(self, x: torch.Tensor, state: PState) -> torch.Tensor:
        below = x.view(x.shape[0], *self.input_shape)
        phi = 0.0
        for j, s in enumerate(state[:-1]):
            phi = phi + (self._pool_conv(j,
                                         below)[0] * s).flatten(1).sum(1) + (s * self.bs[j]).flatten(1).sum(1)
            below = s
        o = state[-1]
        return phi + ((below.flatten(1) @ self.ws[-1].t()) * o).sum(1) + o @ self.bs[-1]

    def output(self, state: PState) -> torch.Tensor:
        return state[-1]
