"""Weight initialisation: the paper's Glorot uniform and torch's default, both from an explicit
generator and drawn in float64, so float32 and float64 nets start from the same numbers.

The authors' layered code draws Glorot; their conv code (`CNN_EP_MNIST`) and Ernoult et al.'s
P-EP keep torch.nn's default for Linear/Conv2d, U(+-1/sqrt(fan_in)) for weights and biases.
"""
from __future__ import annotations

import math

import torch

TORCH_DTYPES = {"float32": torch.float32, "float64": torch.float64}  # NetConfig.dtype -> torch


def _uniform(shape: tuple[int, ...], bound: float, generator: torch.Generator,
             dtype: torch.dtype) -> torch.Tensor:
    w = torch.empty(shape, dtype=torch.float64)
    w.uniform_(-bound, bound, generator=generator)
    return w.to(dtype)


def glorot_uniform(fan_out: int, fan_in: int, generator: torch.Generator,
                   dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """U(-1, 1) * sqrt(6 / (fan_in + fan_out)), shape (fan_out, fan_in)."""
    return _uniform((fan_out, fan_in), math.sqrt(6.0 / (fan_in + fan_out)), generator, dtype)


def torch_default_init(shape: tuple[int, ...], fan_in: int, generator: torch.Generator,
                       dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """U(-1/sqrt(fan_in), 1/sqrt(fan_in)): torch.nn's default for Linear/Conv2d weights and biases."""
    return _uniform(tuple(shape), 1.0 / math.sqrt(fan_in), generator, dtype)


def init_matrix(scheme: str, fan_out: int, fan_in: int, generator: torch.Generator,
                dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """A (fan_out, fan_in) weight under `scheme` ('glorot' or 'torch', NetConfig.init)."""
    if scheme == "torch":
        return torch_default_init((fan_out, fan_in), fan_in, generator, dtype)
    return glorot_uniform(fan_out, fan_in, generator, dtype)


def init_bias(scheme: str, n: int, fan_in: int, generator: torch.Generator,
              dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """A bias of n units: zeros under Glorot (the paper's nets), U(+-1/sqrt(fan_in)) under torch's default."""
    if scheme == "torch":
        return torch_default_init((n,), fan_in, generator, dtype)
    return torch.zeros(n, dtype=dtype)


def init_kernel(c_out: int, c_in: int, k: int, generator: torch.Generator, dtype: torch.dtype,
                scheme: str = "glorot") -> torch.Tensor:
    """A conv kernel (c_out, c_in, k, k): Glorot uniform over receptive fields (fan_in = c_in k^2,
    fan_out = c_out k^2), or torch's default U(+-1/sqrt(c_in k^2)); drawn in float64."""
    if scheme == "torch":
        return torch_default_init((c_out, c_in, k, k), c_in * k * k, generator, dtype)
    return _uniform((c_out, c_in, k, k), math.sqrt(6.0 / ((c_in + c_out) * k * k)), generator, dtype)
