"""Why frecore computes tanh on the CPU as 2 sigmoid(2x) - 1: time both on a relaxation-sized tensor.

    python bench/activations.py
"""
from __future__ import annotations

import time

import torch

from frecore.model.activations import get_activation


def per_call_ms(fn, x: torch.Tensor, repeats: int = 300) -> float:
    fn(x.clone())
    t0 = time.perf_counter()
    for _ in range(repeats):
        fn(x.clone())
    return (time.perf_counter() - t0) / repeats * 1e3


def main() -> None:
    x = torch.randn(500, 512, generator=torch.Generator().manual_seed(0))  # (batch, units)
    clone = per_call_ms(lambda h: h, x)
    ref = per_call_ms(torch.Tensor.tanh_, x) - clone
    ours = per_call_ms(get_activation("tanh").inplace, x) - clone
    print(f"torch tanh_: {ref:.3f} ms   2*sigmoid(2x)-1 in place: {ours:.3f} ms   speed-up {ref / ours:.1f}x "
          f"(500x512 float32, {torch.get_num_threads()} threads)")


if __name__ == "__main__":
    main()
