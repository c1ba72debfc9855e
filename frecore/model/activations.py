"""The activation functions rho of the paper (Appendix D), by name.

Each comes in two forms: a differentiable one for the feedforward twin (BP, FA) and an
in-place one for the relaxation, which owns its freshly computed pre-activations.

tanh on the CPU is computed as 2 sigmoid(2x) - 1: the same function, but about three times
faster than torch.tanh in this torch build's CPU kernels (bench/activations.py measures it),
and the relaxation calls it 2 (T + K) times per batch. BP and FA use the same kernel, through
an autograd Function with tanh's derivative 1 - y^2, so speed comparisons stay fair.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch

Fn = Callable[[torch.Tensor], torch.Tensor]


def _tanh_inplace(h: torch.Tensor) -> torch.Tensor:
    if h.is_cuda:
        return h.tanh_()
    return h.mul_(2.0).sigmoid_().mul_(2.0).sub_(1.0)  # tanh(x) = 2 sigmoid(2x) - 1


class _Tanh(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:
        y = _tanh_inplace(x.clone())
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        (y,) = ctx.saved_tensors
        return grad * (1.0 - y * y)


def tanh(x: torch.Tensor) -> torch.Tensor:
    if x.is_cuda:
        return torch.tanh(x)
    return _Tanh.apply(x) if torch.is_grad_enabled() and x.requires_grad else _tanh_inplace(x.clone())


def sigmoid_s(x: torch.Tensor) -> torch.Tensor:
    """Ernoult et al.'s shifted steep sigmoid 1 / (1 + exp(-4 (x - 0.5)))."""
    return torch.sigmoid(4.0 * (x - 0.5))


def _sigmoid_s_inplace(h: torch.Tensor) -> torch.Tensor:
    return h.sub_(0.5).mul_(4.0).sigmoid_()


def hard_sigmoid(x: torch.Tensor) -> torch.Tensor:
    """clamp(x, 0, 1). (The paper prints max(min(x, 0), 1), a typo for this.)"""
    return torch.clamp(x, 0.0, 1.0)


class _ClampStraightThrough(torch.autograd.Function):
    """clamp(x, 0, 1) forward, identity backward: the derivative the authors' conv BP computes, whose
    mask (x >= 0) & (x <= 1) is taken of the already clamped state and so is 1 everywhere
    (CNN_BP_MNIST.ipynb, cells 0-1: hardsigm_d applied to the post-clamp values)."""

    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:
        return torch.clamp(x, 0.0, 1.0)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        return grad


def hard_sigmoid_ste(x: torch.Tensor) -> torch.Tensor:
    """hard-sigmoid with a straight-through derivative (1 everywhere); the same relaxation as hard-sigmoid."""
    if torch.is_grad_enabled() and x.requires_grad:
        return _ClampStraightThrough.apply(x)
    return torch.clamp(x, 0.0, 1.0)


@dataclass(frozen=True)
class Activation:
    name: str
    fn: Fn  # differentiable
    inplace: Fn  # overwrites its argument; for pre-activations nobody else holds
    zero_at_origin: bool  # rho(0) == 0: a layer nothing reaches yet stays exactly 0


ACTIVATION_FUNCTIONS: dict[str, Activation] = {  # config.ACTIVATIONS names them
    "tanh": Activation("tanh", tanh, _tanh_inplace, True),
    "sigmoid-s": Activation("sigmoid-s", sigmoid_s, _sigmoid_s_inplace, False),
    "hard-sigmoid": Activation("hard-sigmoid", hard_sigmoid, lambda h: h.clamp_(0.0, 1.0), True),
    "hard-sigmoid-ste": Activation("hard-sigmoid-ste", hard_sigmoid_ste, lambda h: h.clamp_(0.0, 1.0), True),
}


def get_activation(name: str) -> Activation:
    try:
        return ACTIVATION_FUNCTIONS[name]
    except KeyError:
        known = ", ".join(ACTIVATION_FUNCTIONS)
        raise ValueError(f"unknown activation {name!r}; choose one of: {known}") from None
