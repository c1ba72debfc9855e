"""Members side by side: M nets of one shape as one net, so one relaxation and one optimiser step
advance all of them. Layered FRE-RNNs and dense P-EP nets stack along a leading member dimension
(every weight (M, out, in), every state (M, B, n)); conv FRE-RNNs fold the members into the
channels (every state (B, M*C, H, W), kernels (M*C_out, C_in, k, k) run as grouped convolutions,
groups = M).

Members may differ in seed (initial weights, batch order), in alpha_i and beta_i, and in noise
std (frecore.model.noise.MemberNoise draws each member's own); everything else (sizes, topology,
activation, feedback, dtype, the rule's settings, the optimiser's) is shared, which is what the
grouping in frecore.training.members checks. Each member's arithmetic is its own slice of a batched
matmul or grouped convolution, so its numbers are those of its separate run (to float rounding).
`member_weights(i)` gives member i's weights as views shaped as its own net's.
"""
from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from frecore.config import ConfigError
from frecore.config.graph import Block, Topology
from frecore.model.conv import ConvFRENet
from frecore.model.layered import LayeredFRENet, Scale
from frecore.model.prototypical import LayeredPrototypicalNet, PState
from frecore.model.relaxation import iterate_members


class MemberStack:
    """What every side-by-side stack offers fit_members: member i's weights as views shaped as its
    own net's (`member_weights`), copying them back out (`unstack`), and masking gradients of
    weights a member lacks (none, unless the stack says otherwise)."""

    member_dim = 0  # the states' dimension that holds the members (conv: folded into the channels, 1)

    def member_views(self, i: int, tensors: Sequence[torch.Tensor]) -> list[torch.Tensor]:
        """Member i's slices of `tensors` (aligned with the stack's weights(): the weights, or their
        gradients), as views shaped as its own net's weights(), in that order."""
        raise NotImplementedError

    def member_weights(self, i: int) -> list[torch.Tensor]:
        """Views of member i's weights, in its own net's weights() order and shapes."""
        return self.member_views(i, self.weights())

    def member_gradients(self, i: int) -> list[torch.Tensor]:
        """Member i's slices of the stacked gradients (a weight without one reads as zeros)."""
        return self.member_views(i, [torch.zeros_like(w) if w.grad is None else w.grad.contiguous()
                                     for w in self.weights()])

    def mask_gradients(self) -> None:
        """Every member has every weight: nothing to mask."""

    def unstack(self, i: int, net: nn.Module) -> nn.Module:
        """Copy member i's weights into `net` (a net of the member's own config)."""
        with torch.no_grad():
            for p, q in zip(net.weights(), self.member_weights(i)):
                p.copy_(q)
        return net


def _union(topologies: Sequence[Topology]) -> tuple[Topology, list[list[int]]]:
    """The blocks of every member's graph, in an order that keeps each member's own order (the
    chain, then the skips by (src, dst)), and per member the union indices of its blocks. AGT
    members draw different graphs over the same layers; a block a member lacks is absent for it."""
    keys: list[tuple[int, int]] = []
    for t in topologies:
        keys += [(b.src, b.dst) for b in t.blocks if (b.src, b.dst) not in keys]
    keys.sort(key=lambda k: (k[1] - k[0] > 1, k))
    index = {k: i for i, k in enumerate(keys)}
    members = []
    for t in topologies:
        mine = [index[(b.src, b.dst)] for b in t.blocks]
        if mine != sorted(mine):  # a member adding its terms in another order would round differently
            raise ConfigError("members side by side: a member's blocks are not in the union's order")
        members.append(mine)
    flags = [[False, False] for _ in keys]
    for t in topologies:
        for b in t.blocks:
            f = flags[index[(b.src, b.dst)]]
            f[0], f[1] = f[0] or b.forward, f[1] or b.feedback
    blocks = tuple(Block(src, dst, forward=fw, feedback=fb) for (src, dst), (fw, fb) in zip(keys, flags))
    return Topology(topologies[0].sizes, blocks), members


class StackedLayeredNet(MemberStack, LayeredFRENet):
    """`nets` (already initialised, each from its own seed) stacked along a leading member dimension.

    Members may have different graphs over the same layers (AGT rows: a graph per seed; Figure S8:
    per P): the stack holds the union of their blocks, a block a member lacks being zero weights with
    zero scales that never learn (`mask_gradients`), so each member computes exactly its own net.
    Its dynamics are LayeredFRENet's, on the member dimension."""

    iterate = staticmethod(iterate_members)  # each member stops at its own settled step

    def __init__(self, nets: Sequence[LayeredFRENet]) -> None:
        nn.Module.__init__(self)
        first = nets[0]
        for n in nets[1:]:
            if (n.topology.sizes != first.topology.sizes or n.cfg.activation != first.cfg.activation
                    or n.symmetric != first.symmetric or (n.b_out is None) != (first.b_out is None)
                    or n.w_in.shape != first.w_in.shape):
                raise ConfigError("members side by side need one shape: sizes, activation, feedback, readout")
        self.cfg = first.cfg
        self.topology, self.member_blocks = _union([n.topology for n in nets])
        self.rho = first.rho
        self.symmetric = first.symmetric
        self.m = len(nets)
        n_union = len(self.topology.blocks)
        own = [{u: k for k, u in enumerate(mine)} for mine in self.member_blocks]  # union index -> member's

        def stack(get) -> torch.Tensor:
            return torch.stack([get(n).detach() for n in nets])

        def stack_block(get, u: int) -> torch.Tensor:
            """Union block u of every member: its own tensor, or zeros where it lacks the block."""
            present = next(get(n, own[j][u]) for j, n in enumerate(nets) if u in own[j])
            return torch.stack([get(n, own[j][u]).detach() if u in own[j] else torch.zeros_like(present)
                                for j, n in enumerate(nets)])

        self.w_in = nn.Parameter(stack(lambda n: n.w_in))
        self.w_blocks = nn.ParameterList([nn.Parameter(stack_block(lambda n, k: n.w_blocks[k], u))
                                          for u in range(n_union)])
        self.w_out = nn.Parameter(stack(lambda n: n.w_out))
        self.b_out = nn.Parameter(stack(lambda n: n.b_out)) if first.b_out is not None else None
        if not self.symmetric:
            for u in range(n_union):
                self.register_buffer(f"fb_block{u}", stack_block(lambda n, k: n.feedback_operand(k), u))
            self.register_buffer("fb_out", stack(lambda n: n.fb_out))
        dtype, device = first.w_in.dtype, first.w_in.device

        def table(scale: str, direction: str) -> torch.Tensor:
            """(M, n_union) alpha or beta, 0 where a member lacks the block or that direction of it."""
            def value(n, j: int, u: int) -> float:
                present = u in own[j] and getattr(n.topology.blocks[own[j][u]], direction)
                return float(getattr(n, scale)[own[j][u]]) if present else 0.0

            rows = [[value(n, j, u) for u in range(n_union)] for j, n in enumerate(nets)]
            return torch.tensor(rows, dtype=dtype, device=device).reshape(self.m, n_union)

        self.alpha, self.beta = table("alpha", "forward"), table("beta", "feedback")
        # per block, once: its scale (a float when every member shares it) and, where some member
        # lacks it or only feeds back through it, a (M, 1, 1) 0/1 mask of the members whose weight learns
        self._block_scales = [(self._shared_scale(self.alpha, u), self._shared_scale(self.beta, u))
                              for u in range(n_union)]
        learns = [[u in own[j] and n.topology.blocks[own[j][u]].forward for j, n in enumerate(nets)]
                  for u in range(n_union)]
        self.grad_masks = [None if all(col)
                           else torch.tensor(col, dtype=dtype, device=device).view(self.m, 1, 1)
                           for col in learns]
        self.batched = False

    def mask_gradients(self) -> None:
        """Zero the gradient of every block a member lacks or only feeds back through: such weights
        then stay as they are (zero for a lacking block) under Adam, AdamW and SGD alike."""
        for w, mask in zip(self.w_blocks, self.grad_masks):
            if mask is not None and w.grad is not None:
                w.grad.mul_(mask)

    def member_views(self, i: int, tensors: Sequence[torch.Tensor]) -> list[torch.Tensor]:
        """weights(): W_0, the union's blocks, W_f (, b_f); member i's: W_0, its own blocks, W_f (, b_f)."""
        n = len(self.w_blocks)
        blocks = (tensors[1 + u][i] for u in self.member_blocks[i])
        return [tensors[0][i], *blocks, *(t[i] for t in tensors[1 + n:])]

    def _shared_scale(self, table: torch.Tensor, k: int) -> Scale:
        """Block k's scale: one float when every member has the same, else (M, 1, 1)."""
        column = table[:, k]
        return float(column[0]) if bool((column == column[0]).all()) else column.view(self.m, 1, 1)

    def block_scales(self) -> list[tuple[Scale, Scale]]:
        """Per union block, (alpha, beta): a float where every member shares it, else (M, 1, 1)."""
        return self._block_scales

    def member_factor(self, values: Sequence[float], layer: int) -> torch.Tensor:
        """One value per member as a factor of a layer's (M, B, n) state."""
        return torch.tensor(values, dtype=self.w_in.dtype, device=self.w_in.device).view(-1, 1, 1)


class StackedConvNet(MemberStack, ConvFRENet):
    """`nets` (conv FRE-RNNs, each from its own seed) as one grouped net. Inputs and labels carry a
    leading member dimension, (M, B, features) and (M, B), as do the logits, (M, B, n_out)."""

    def __init__(self, nets: Sequence[ConvFRENet]) -> None:
        nn.Module.__init__(self)
        first = nets[0]
        for n in nets[1:]:
            if (n.shapes != first.shapes or n.input_shape != first.input_shape
                    or n.cfg.activation != first.cfg.activation or (n.b_out is None) != (first.b_out is None)
                    or n.cfg.kernel != first.cfg.kernel or n.cfg.padding != first.cfg.padding):
                raise ConfigError("members side by side need one shape: channels, kernel, padding, "
                                  "activation, readout")
        self.cfg, self.input_shape, self.rho = first.cfg, first.input_shape, first.rho
        self.shapes, self.pooled_top = first.shapes, first.pooled_top
        self.m = self.groups = len(nets)
        self.member_dim = 1  # (B, M*C, H, W)
        self.layout = torch.channels_last  # bench/ensemble.py, docs/speed.md
        self.convs = nn.ParameterList([nn.Parameter(torch.cat([n.convs[i].detach() for n in nets]))
                                       for i in range(len(first.convs))])
        self.biases = nn.ParameterList([nn.Parameter(torch.cat([n.biases[i].detach() for n in nets]))
                                        for i in range(len(first.biases))])
        self.w_out = nn.Parameter(torch.stack([n.w_out.detach() for n in nets]))
        has_bias = first.b_out is not None
        self.b_out = nn.Parameter(torch.stack([n.b_out.detach() for n in nets])) if has_bias else None
        dtype, device = first.w_out.dtype, first.w_out.device

        def per_channel(values: list[float], layer: int) -> float | torch.Tensor:
            """One float when every member has it, else a (1, M*C, 1, 1) factor over the folded channels."""
            if all(v == values[0] for v in values):
                return values[0]
            t = torch.tensor(values, dtype=dtype, device=device).repeat_interleave(self.shapes[layer][0])
            return t.view(1, -1, 1, 1)

        # alpha_i scales conv i (>= 1) into layer i; beta_i the feedback into layer i
        self.alpha = [per_channel([n.alpha[i] for n in nets], i + 1) for i in range(len(first.alpha))]
        self.beta = [per_channel([n.beta[i] for n in nets], i) for i in range(len(first.beta))]

    def member_views(self, i: int, tensors: Sequence[torch.Tensor]) -> list[torch.Tensor]:
        """weights(): kernel_j, bias_j per conv (members folded into the output channels), W_f (, b_f)."""
        n_conv = 2 * len(self.convs)
        out = [t.view(self.m, -1, *t.shape[1:])[i] for t in tensors[:n_conv]]
        return out + [t[i] for t in tensors[n_conv:]]

    def member_factor(self, values: Sequence[float], layer: int) -> torch.Tensor:
        """One value per member as a factor of layer `layer`'s state, members folded into its channels."""
        factor = torch.tensor(values, dtype=self.w_out.dtype, device=self.w_out.device)
        return factor.repeat_interleave(self.shapes[layer][0]).view(1, -1, 1, 1)

    def image(self, x: torch.Tensor) -> torch.Tensor:
        """(M, B, features) -> (B, M*C, H, W): member m's images in channels m*C .. (m+1)*C - 1."""
        return x.transpose(0, 1).reshape(x.shape[1], self.m * self.input_shape[0], *self.input_shape[1:])

    def batch_size(self, x: torch.Tensor) -> int:
        return x.shape[1]

    def unflatten_top(self, flat: torch.Tensor) -> torch.Tensor:
        """(M, B, n_top) -> (B, M*C_L, H_L/2, W_L/2)"""
        c, h, w = self.pooled_top
        return flat.transpose(0, 1).reshape(flat.shape[1], self.m * c, h, w)

    def pooled_flat(self, s_top: torch.Tensor) -> torch.Tensor:
        """(B, M*C_L, H_L, W_L) -> (M, B, n_top), each member's flattening as its own net's."""
        pooled = F.max_pool2d(s_top, 2)
        return pooled.reshape(pooled.shape[0], self.m, -1).transpose(0, 1)

    def feedforward(self, x: torch.Tensor, feedback_alignment: bool = False,
                    offsets=None) -> tuple[list[torch.Tensor], torch.Tensor]:
        if offsets is not None:
            raise ConfigError("members side by side: no pre-activation offsets")
        return super().feedforward(x, feedback_alignment)


class StackedPrototypicalNet(MemberStack, LayeredPrototypicalNet):
    """Dense P-EP nets (each from its own seed) side by side: weights (M, n_j, n_{j-1}), biases
    (M, n_j), states and inputs (M, B, n); Phi per member and sample, (M, B)."""

    def __init__(self, nets: Sequence[LayeredPrototypicalNet]) -> None:
        nn.Module.__init__(self)
        first = nets[0]
        for n in nets[1:]:
            if (n.sizes != first.sizes or n.ws[0].shape != first.ws[0].shape
                    or n.cfg.activation != first.cfg.activation):
                raise ConfigError("members side by side need one shape: sizes and activation")
        self.cfg, self.rho, self.sizes, self.n_layers = first.cfg, first.rho, first.sizes, first.n_layers
        self.m = len(nets)
        def stacked(j: int, name: str) -> nn.Parameter:
            return nn.Parameter(torch.stack([getattr(n, name)[j].detach() for n in nets]))

        self.ws = nn.ParameterList([stacked(j, "ws") for j in range(len(first.ws))])
        self.bs = nn.ParameterList([stacked(j, "bs") for j in range(len(first.bs))])

    def member_views(self, i: int, tensors: Sequence[torch.Tensor]) -> list[torch.Tensor]:
        return [t[i] for t in tensors]

    affine = staticmethod(torch.baddbmm)  # gradient_phi's products, member by member

    def bias(self, j: int) -> torch.Tensor:
        return self.bs[j].unsqueeze(1)  # (M, 1, n_j)

    def primitive(self, x: torch.Tensor, state: PState) -> torch.Tensor:
        """Phi per member and sample, (M, B)."""
        below = [x, *state[:-1]]
        return sum((torch.bmm(b, w.transpose(1, 2)) * s).sum(-1) + (s * bias.unsqueeze(1)).sum(-1)
                   for w, bias, b, s in zip(self.ws, self.bs, below, state))


Stackable = Sequence[LayeredFRENet] | Sequence[ConvFRENet] | Sequence[LayeredPrototypicalNet]
STACKS: dict[type, type] = {LayeredFRENet: StackedLayeredNet, ConvFRENet: StackedConvNet,
                            LayeredPrototypicalNet: StackedPrototypicalNet}


def stack_members(nets: Stackable) -> StackedLayeredNet | StackedConvNet | StackedPrototypicalNet:
    """The side-by-side net of `nets` (one kind, one shape)."""
    kinds = {type(n) for n in nets}
    if len(kinds) == 1 and next(iter(kinds)) in STACKS:
        return STACKS[next(iter(kinds))](nets)
    raise ConfigError("members side by side: layered or conv FRE-RNNs, or dense P-EP nets, of one kind; got "
                      + ", ".join(sorted(k.__name__ for k in kinds)))
