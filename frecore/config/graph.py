"""Topology as data: which hidden layers connect, forward versus feedback.

The layered FRE-RNN (paper Fig. 1a) is a chain: forward block i -> i+1 (weight W_i, scaled
by alpha_i) and feedback block i+1 -> i (B_i, scaled by beta_i). The input drive enters layer 0
of the hidden chain only, and the readout reads the last hidden layer. Deeper topologies add
blocks between non-adjacent layers (paper Figure 3): the residual pattern (10HL: 1<->4, 4<->7,
7<->10) and arbitrary graphs (AGT: each non-adjacent pair with probability P). Every block is a
forward weight that learns with the same local rule and a feedback twin scaled by its beta.
Layers are 0-indexed here; the paper counts from 1.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Iterable

if TYPE_CHECKING:
    import torch


@dataclass(frozen=True)
class Block:
    """A forward connection src -> dst between hidden layers (dst > src) and its feedback twin.

    The authors' AGT code draws each direction apart, so a block may carry only one of the two.
    """

    src: int
    dst: int
    forward: bool = True  # a learned W: src -> dst, scaled by alpha
    feedback: bool = True  # a feedback matrix dst -> src, scaled by beta (W^T when tied)


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
            if b.forward:
                a[b.dst][b.src] = 1
            if b.feedback:
                a[b.src][b.dst] = 2
        return a

    @property
    def one_way(self) -> bool:
        """True when some block lacks its forward or its feedback half (an ordered AGT draw)."""
        return any(not (b.forward and b.feedback) for b in self.blocks)


def chain(sizes: tuple[int, ...]) -> Topology:
    """The plain chain s_1 <-> s_2 <-> ... <-> s_L of paper Fig. 1a."""
    return Topology(tuple(sizes), tuple(Block(i, i + 1) for i in range(len(sizes) - 1)))


def with_skips(sizes: tuple[int, ...], skips: Iterable[tuple[int, int]]) -> Topology:
    """The chain plus forward blocks src -> dst (0-indexed, src < dst - 1), each with its feedback.

    ValueError names the first pair that is a self-loop, runs backwards, repeats or leaves the net.
    """
    n = len(sizes)
    links = [Block(i, i + 1) for i in range(n - 1)]
    seen = {(b.src, b.dst) for b in links}
    extra = []
    for src, dst in skips:
        if not (0 <= src < n and 0 <= dst < n):
            raise ValueError(f"block {src}->{dst} names a layer outside 0..{n - 1}")
        if src >= dst:
            raise ValueError(f"block {src}->{dst}: forward blocks run from a lower to a higher layer "
                             f"(no self-loops; feedback is each block's twin)")
        if (src, dst) in seen:
            raise ValueError(f"block {src}->{dst} is listed twice or duplicates the chain")
        seen.add((src, dst))
        extra.append(Block(src, dst))
    return Topology(tuple(sizes), tuple(links + extra))


def residual(sizes: tuple[int, ...], every: int = 3) -> Topology:
    """The paper's residual pattern: skips 0<->3, 3<->6, ... (1<->4, 4<->7, 7<->10 in 1-indexed 10HL)."""
    n = len(sizes)
    return with_skips(sizes, [(i, i + every) for i in range(0, n - every, every)])


def agt(sizes: tuple[int, ...], p: float, generator: "torch.Generator", ordered: bool = False) -> Topology:
    """Arbitrary graph topology: the chain plus each non-adjacent pair (i < j - 1) with probability p,
    drawn from `generator` in a fixed pair order (no global RNG).

    `ordered` draws the forward half (i -> j) and the feedback half (j -> i) of each pair apart, as
    the authors' `make_W_conn_random` does; a pair may then carry one direction only.
    """
    import torch  # only AGT draws: a plain config needs no torch

    n = len(sizes)
    pairs = [(i, j) for i in range(n) for j in range(i + 2, n)]
    draws = torch.rand((len(pairs), 2 if ordered else 1), generator=generator, dtype=torch.float64).tolist()
    if not ordered:
        return with_skips(sizes, [pair for pair, (u,) in zip(pairs, draws) if u < p])
    chain_blocks = chain(sizes).blocks
    extra = tuple(Block(i, j, forward=uf < p, feedback=ub < p) for (i, j), (uf, ub) in zip(pairs, draws)
                  if uf < p or ub < p)
    return Topology(tuple(sizes), chain_blocks + extra)
