"""Members side by side: M layered FRE-RNNs of one shape as one net, every weight (M, out, in),
every state (M, B, n), so one relaxation and one optimiser step advance all of them.

Members may differ in seed (initial weights, batch order) and in alpha_i and beta_i; everything
else (sizes, topology, activation, feedback, dtype, the rule's settings, the optimiser's) is shared,
which is what the grouping in frecore.training.members checks. Each member's arithmetic is its own
slice of a batched matmul, so its numbers are those of its separate run (to float rounding).
"""
from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from frecore.config import ConfigError
from frecore.model.layered import DenseWeights, LastLayerInput, LayeredFRENet, State
from frecore.model.noise import GaussianNoise
from frecore.model.relaxation import Relaxation, iterate


class _StackedFeedbackAlignedLinear(torch.autograd.Function):
    """Per member y = x W^T forward; backward sends the error through the fixed F instead of W."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, w: torch.Tensor, f: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(x, f)
        return torch.bmm(x, w.transpose(1, 2))

    @staticmethod
    def backward(ctx, grad_out: torch.Tensor):
        x, f = ctx.saved_tensors
        return torch.bmm(grad_out, f), torch.bmm(grad_out.transpose(1, 2), x), None


class StackedLayeredNet(DenseWeights, nn.Module):
    """`nets` (already initialised, each from its own seed) stacked along a leading member dimension."""

    def __init__(self, nets: Sequence[LayeredFRENet]) -> None:
        super().__init__()
        first = nets[0]
        for n in nets[1:]:
            if (n.topology != first.topology or n.cfg.activation != first.cfg.activation or n.symmetric != first.symmetric
                    or (n.b_out is None) != (first.b_out is None) or n.w_in.shape != first.w_in.shape):
                raise ConfigError("members side by side need one shape: sizes, topology, activation, feedback, readout")
        self.cfg = first.cfg
        self.topology = first.topology
        self.rho = first.rho
        self.symmetric = first.symmetric
        self.m = len(nets)

        def stack(get) -> torch.Tensor:
            return torch.stack([get(n).detach() for n in nets])

        self.w_in = nn.Parameter(stack(lambda n: n.w_in))
        self.w_blocks = nn.ParameterList([nn.Parameter(stack(lambda n, k=k: n.w_blocks[k]))
                                          for k in range(len(first.w_blocks))])
        self.w_out = nn.Parameter(stack(lambda n: n.w_out))
        self.b_out = nn.Parameter(stack(lambda n: n.b_out)) if first.b_out is not None else None
        if not self.symmetric:
            for k in range(len(first.w_blocks)):
                self.register_buffer(f"fb_block{k}", stack(lambda n, k=k: n.feedback_operand(k)))
            self.register_buffer("fb_out", stack(lambda n: n.fb_out))
        dtype, device = first.w_in.dtype, first.w_in.device
        # per member and block: (M, n_blocks) scales, used as (M, 1, 1) factors
        self.alpha = torch.tensor([list(n.alpha) for n in nets], dtype=dtype, device=device).reshape(self.m, -1)
        self.beta = torch.tensor([list(n.beta) for n in nets], dtype=dtype, device=device).reshape(self.m, -1)
        self.batched = False

    def unstack(self, i: int, net: LayeredFRENet) -> LayeredFRENet:
        """Copy member i's weights into `net` (a LayeredFRENet of the member's config)."""
        with torch.no_grad():
            for p, q in zip(net.weights(), self.weights()):
                p.copy_(q[i])
        return net

    def _scale(self, table: torch.Tensor, k: int) -> torch.Tensor:
        return table[:, k].view(self.m, 1, 1)

    def input_drive(self, x: torch.Tensor) -> torch.Tensor:
        """(M, B, n_in) -> (M, B, n_1)"""
        return torch.bmm(x, self.w_in.transpose(1, 2))

    def relax(self, drive: torch.Tensor, steps: int, start: Relaxation[State] | None = None,
              last_input: LastLayerInput = None, tol: float | None = None, relative_to: State | None = None,
              record: bool = False, noise: GaussianNoise | None = None) -> Relaxation[State]:
        """Every member's relaxation at once (LayeredFRENet.relax, member by member)."""
        if tol is not None or noise is not None:
            raise ConfigError("members side by side run fixed T/K steps without state noise")
        n_layers = len(self.sizes)
        terms: list[list] = [[] for _ in range(n_layers)]  # per receiving layer: (scale (M,1,1), source, operand)
        for k, b in enumerate(self.topology.blocks):
            if b.forward:
                terms[b.dst].append((self._scale(self.alpha, k), b.src, self.w_blocks[k].transpose(1, 2)))
            if b.feedback:
                terms[b.src].append((self._scale(self.beta, k), b.dst, self.feedback_operand(k)))

        def step(state: State | None, previous: State | None) -> State:
            ext: list[torch.Tensor | None] = [drive] + [None] * (n_layers - 1)
            if last_input is not None:
                ext[-1] = last_input(state) if callable(last_input) else last_input
                if n_layers == 1:
                    ext[-1] = drive + ext[-1]
            new = []
            for j, n in enumerate(self.sizes):
                h = ext[j]
                if state is not None:
                    for scale, src, mat in terms[j]:
                        t = torch.bmm(state[src], mat).mul_(scale)
                        h = t if h is None else h + t
                if h is None:
                    h = drive.new_zeros(drive.shape[0], drive.shape[1], n)
                new.append(self.rho.inplace(h.clone() if h is ext[j] else h))
            return new

        return iterate(step, steps, start, record=record)

    def readout_state(self, relaxation: Relaxation[State]) -> torch.Tensor:
        return relaxation.state[-1]

    def logits(self, s_last: torch.Tensor) -> torch.Tensor:
        """(M, B, n_L) -> (M, B, n_out)"""
        out = torch.bmm(s_last, self.w_out.transpose(1, 2))
        return out if self.b_out is None else out + self.b_out.unsqueeze(1)

    def feedforward(self, x: torch.Tensor, feedback_alignment: bool = False,
                    offsets: Sequence[torch.Tensor] | None = None) -> tuple[State, torch.Tensor]:
        """Every member's feedforward twin; with `feedback_alignment`, errors flow back through the
        fixed random matrices (LayeredFRENet.feedforward, member by member)."""
        if offsets is not None:
            raise ConfigError("members side by side: no pre-activation offsets")

        def linear(inp: torch.Tensor, w: torch.Tensor, f: torch.Tensor) -> torch.Tensor:
            if feedback_alignment:
                return _StackedFeedbackAlignedLinear.apply(inp, w, f)
            return torch.bmm(inp, w.transpose(1, 2))

        states: State = []
        for j in range(len(self.sizes)):
            h = self.input_drive(x) if j == 0 else 0.0
            for k, b in enumerate(self.topology.blocks):
                if b.dst == j and b.forward:
                    h = h + self._scale(self.alpha, k) * linear(states[b.src], self.w_blocks[k], self.feedback_operand(k))
            states.append(self.rho.fn(h))
        logits = linear(states[-1], self.w_out, self.output_feedback_operand())
        return states, logits if self.b_out is None else logits + self.b_out.unsqueeze(1)
