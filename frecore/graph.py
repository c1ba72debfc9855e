"""Topology as data: which hidden layers connect, forward versus feedback.

The layered FRE-RNN (paper Fig. 1a) is a chain: forward block i -> i+1 (weight W_i, scaled
by alpha_i) and feedback block i+1 -> i (B_i, scaled by beta_i). The input drive enters layer 0
of the hidden chain only, and the readout reads the last hidden layer. Keeping the blocks as a
list lets deeper topologies (residual, arbitrary graphs) reuse the same net and rules.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Block:
    """A forward connection src -> dst between hidden layers (dst > src) and its feedback twin."""

    src: int
    dst: int


@dataclass(frozen=True)
class Topology:
    sizes: tuple[int, ...]  # hidden layer sizes
    blocks: tuple[Block, ...]  # forward blocks; each has a feedback block dst -> src

    @property
    def n_layers(self) -> int:
        return len(self.sizes)

    def adjacency(self) -> list[list[int]]:
        """Layer adjacency (row = receiving layer): 1 forward, 2 feedback, 0 none."""
        a = [[0] * self.n_layers for _ in range(self.n_layers)]
        for b in self.blocks:
            a[b.dst][b.src] = 1
            a[b.src][b.dst] = 2
        return a


def layered(sizes: tuple[int, ...]) -> Topology:
    """The plain chain s_1 <-> s_2 <-> ... <-> s_L of paper Fig. 1a."""
    return Topology(tuple(sizes), tuple(Block(i, i + 1) for i in range(len(sizes) - 1)))
