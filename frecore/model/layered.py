"""The layered FRE-RNN: state layout, one synchronous update step, and its feedforward twin.

State: one tensor per hidden layer, `(B, n_j)`. One step updates every layer at once,
`s_j <- rho(sum of scaled inputs into j)`, with

* the input drive `W_0 x` into layer 0 (constant in a phase, not scaled by alpha),
* forward blocks `alpha_b * W_b s_src` into `dst`,
* feedback blocks `beta_b * B_b s_dst` into `src` (B_b = W_b^T when symmetric, tied),
* in the nudged phase, `beta_f * B_f e_p` into the last layer.

The readout `softmax(W_f s_L)` is not part of the dynamics. Every matrix is stored so that a
batch of row-vector states multiplies it on the right: a forward block uses `W_b.t()` (a view),
a feedback block uses `F_b = B_b^T` with shape (n_dst, n_src), which for a tied net *is* W_b.
"""
from __future__ import annotations

from typing import Callable, Sequence, Union

import torch
from torch import nn

from frecore.config import ConfigError, NetConfig
from frecore.config.graph import Topology
from frecore.model.activations import get_activation
from frecore.model.init import TORCH_DTYPES, init_bias, init_matrix
from frecore.model.noise import GaussianNoise
from frecore.model.relaxation import Relaxation, iterate

State = list[torch.Tensor]  # one (B, n_j) tensor per hidden layer
Term = tuple[float, int, torch.Tensor]  # (scale, source layer, right-hand matrix)
# The last hidden layer's extra input: a constant tensor or a function of the current state
# (the nudge beta_f B_f e_p, recomputed from the current prediction each step).
LastLayerInput = Union[torch.Tensor, Callable[[State], torch.Tensor], None]

class _FeedbackAlignedLinear(torch.autograd.Function):
    """y = x W^T forward; backward sends the error through a fixed matrix F instead of W."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, w: torch.Tensor, f: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(x, f)
        return x @ w.t()

    @staticmethod
    def backward(ctx, grad_out: torch.Tensor):
        x, f = ctx.saved_tensors
        return grad_out @ f, grad_out.t() @ x, None  # (B, n_in), (n_out, n_in)


class DenseWeights:
    """The weight layout the layered FRE-RNN and its side-by-side stack share: W_0, the blocks' W_i,
    W_f (and b_f), tied or fixed random feedback. With a leading member dimension the same code
    serves frecore.model.members."""

    topology: Topology
    symmetric: bool

    @property
    def sizes(self) -> tuple[int, ...]:
        return self.topology.sizes

    def weights(self) -> list[nn.Parameter]:
        """The learnable tensors in input -> readout order: W_0, W_1.., W_f (then b_f, if any)."""
        return [p for group in self.layer_params() for p in group]

    def layer_params(self) -> list[list[nn.Parameter]]:
        """Per learning layer (one optimizer group each), input -> readout; b_f learns with W_f."""
        readout = [self.w_out] if self.b_out is None else [self.w_out, self.b_out]
        return [[self.w_in], *([w] for w in self.w_blocks), readout]

    def feedback_operand(self, k: int) -> torch.Tensor:
        """F_k = B_k^T, (n_dst, n_src): the tied W_k itself, or the fixed random matrix."""
        return self.w_blocks[k] if self.symmetric else getattr(self, f"fb_block{k}")

    def output_feedback_operand(self) -> torch.Tensor:
        """F_f = B_f^T, (n_out, n_L): W_f when symmetric."""
        return self.w_out if self.symmetric else self.fb_out


class LayeredFRENet(DenseWeights, nn.Module):
    """Feedback-regulated RNN over a chain of hidden layers with a softmax readout."""

    def __init__(self, cfg: NetConfig, n_in: int, n_out: int, generator: torch.Generator,
                 batched: bool = False) -> None:
        super().__init__()
        self.cfg = cfg
        self.topology = cfg.graph()
        self.rho = get_activation(cfg.activation)
        dtype = TORCH_DTYPES[cfg.dtype]
        sizes = self.topology.sizes
        self.symmetric = cfg.feedback == "symmetric"
        if self.symmetric and self.topology.one_way:
            raise ConfigError("a block with only a forward or only a feedback half (agt_draw 'ordered') needs "
                              "feedback='random': tied feedback is the forward weight's transpose")
        init = cfg.init
        self.w_in = nn.Parameter(init_matrix(init, sizes[0], n_in, generator, dtype))  # W_0
        self.w_blocks = nn.ParameterList(
            [nn.Parameter(init_matrix(init, sizes[b.dst], sizes[b.src], generator, dtype))
             for b in self.topology.blocks])  # W_i: (n_dst, n_src)
        self.w_out = nn.Parameter(init_matrix(init, n_out, sizes[-1], generator, dtype))  # W_f
        # b_f: drawn after every weight, so a net without one starts from the same weights
        self.b_out = nn.Parameter(init_bias(init, n_out, sizes[-1], generator, dtype)) if cfg.readout_bias else None
        if not self.symmetric:  # fixed random feedback, same init as the forward weights
            for k, b in enumerate(self.topology.blocks):
                self.register_buffer(f"fb_block{k}", init_matrix(init, sizes[b.dst], sizes[b.src], generator, dtype))
            self.register_buffer("fb_out", init_matrix(init, n_out, sizes[-1], generator, dtype))
        self.alpha = cfg.alpha
        self.beta = cfg.beta
        # One batched matmul over all blocks per step instead of a Python loop (equal widths only):
        # build_fre_net decides per device (use_batched); bench/graph_step.py measures both.
        self.batched = batched

    # -- structure ---------------------------------------------------------------------------
    def coupling_terms(self) -> list[list[Term]]:
        """Per receiving layer, the (scale, source, matrix) terms of its recurrent input.

        Built once per phase; zero scales are dropped so beta_i = 0 costs nothing.
        """
        terms: list[list[Term]] = [[] for _ in self.sizes]
        for k, b in enumerate(self.topology.blocks):
            if b.forward and self.alpha[k] != 0.0:
                terms[b.dst].append((self.alpha[k], b.src, self.w_blocks[k].t()))
            if b.feedback and self.beta[k] != 0.0:
                terms[b.src].append((self.beta[k], b.dst, self.feedback_operand(k)))
        return terms

    # -- dynamics ----------------------------------------------------------------------------
    def input_drive(self, x: torch.Tensor) -> torch.Tensor:
        """W_0 x, computed once per phase. (B, n_in) -> (B, n_1)"""
        return x @ self.w_in.t()

    def step(self, state: State | None, external: Sequence[torch.Tensor | None],
             terms: list[list[Term]], zero: frozenset[int] = frozenset(),
             differentiable: bool = False, noise: GaussianNoise | None = None) -> State:
        """One synchronous update s <- rho(W_scaled s + b). `state=None` means s = 0.

        `external[j]` is layer j's constant input b_j (or None); external[0], the input
        drive, is always present. Layers in `zero` are known to be exactly 0, so the terms
        they send are skipped (exact: they would add 0). `differentiable` avoids in-place
        kernels, for autograd and forward-mode AD (Lyapunov exponents).
        """
        new: State = []
        for j, n in enumerate(self.sizes):
            h = external[j]
            if state is not None:
                for scale, src, mat in terms[j]:
                    if src in zero:
                        continue
                    if differentiable:
                        h = scale * (state[src] @ mat) if h is None else h + scale * (state[src] @ mat)
                    elif h is None:
                        h = torch.mm(state[src], mat)
                        if scale != 1.0:  # (x * 1.0 is x)
                            h.mul_(scale)
                    else:
                        h = torch.addmm(h, state[src], mat, alpha=scale)
            if h is None:  # no input reaches this layer yet: rho(0)
                h = external[0].new_zeros(external[0].shape[0], n)
            if noise is not None:
                h = h + noise.for_layer(j, h)  # noise entering like the bias b
            if differentiable:
                new.append(self.rho.fn(h))
            else:
                new.append(self.rho.inplace(h.clone() if h is external[j] else h))  # never overwrite an input
        return new

    def relax(self, drive: torch.Tensor, steps: int, start: Relaxation[State] | None = None,
              last_input: LastLayerInput = None, tol: float | None = None, relative_to: State | None = None,
              record: bool = False, noise: GaussianNoise | None = None) -> Relaxation[State]:
        """`steps` synchronous updates from `start` (None: s = 0) under the input drive W_0 x
        (computed once by the caller, constant in a phase). `last_input` is the last layer's extra
        input: a tensor, or a function of the current state (the nudge beta_f B_f e_p, recomputed
        each step). `tol`, `relative_to`: stop early (frecore.model.relaxation.iterate). `noise`: state
        noise added to every pre-activation at every step (Figures S12-S13)."""
        batched = self.batched
        terms = self.batched_terms() if batched else self.coupling_terms()  # once per phase
        n_layers = len(self.sizes)
        external: list[torch.Tensor | None] = [drive] + [None] * (n_layers - 1)
        # Starting from s = 0 with rho(0) = 0, a layer stays exactly 0 until the input wave
        # reaches it; skipping what such layers send saves matmuls without changing a number.
        track_zero = not batched and self.rho.zero_at_origin and noise is None
        zero: frozenset[int] = frozenset()

        def step(state: State | None, previous: State | None) -> State:
            nonlocal zero
            ext = external
            if last_input is not None:
                nudge = last_input(state) if callable(last_input) else last_input
                ext = list(external)
                ext[-1] = nudge if ext[-1] is None else ext[-1] + nudge
            new = (self.step_batched(state, ext, terms, noise) if batched
                   else self.step(state, ext, terms, zero, noise=noise))
            if track_zero:
                was_zero = zero if state is not None else frozenset(range(n_layers))
                zero = frozenset(j for j in range(n_layers)
                                 if ext[j] is None and all(src in was_zero for _, src, _ in terms[j]))
            return new

        return iterate(step, steps, start, tol=tol, relative_to=relative_to, record=record)

    def batched_terms(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Per phase: every nonzero scaled block as one (n_terms, n, n) stack, with the layer each
        reads (src) and writes (dst). Forward terms alpha_b W_b^T, feedback terms beta_b F_b."""
        mats, src, dst = [], [], []
        for k, b in enumerate(self.topology.blocks):
            if b.forward and self.alpha[k] != 0.0:
                mats.append(self.w_blocks[k].t() * self.alpha[k])
                src.append(b.src)
                dst.append(b.dst)
            if b.feedback and self.beta[k] != 0.0:
                mats.append(self.feedback_operand(k) * self.beta[k])
                src.append(b.dst)
                dst.append(b.src)
        device = self.w_in.device
        return (torch.stack(mats), torch.tensor(src, device=device), torch.tensor(dst, device=device))

    def step_batched(self, state: State | None, external: Sequence[torch.Tensor | None],
                     terms: tuple[torch.Tensor, torch.Tensor, torch.Tensor],
                     noise: GaussianNoise | None = None) -> State:
        """The same update as `step` for equal-width layers: one bmm for all blocks, one index_add."""
        mats, src, dst = terms
        drive = external[0]
        h = drive.new_zeros(len(self.sizes), drive.shape[0], self.sizes[0])
        if state is not None:
            h.index_add_(0, dst, torch.bmm(torch.stack(state)[src], mats))
        for j, e in enumerate(external):
            if e is not None:
                h[j] += e
        if noise is not None:
            h = h + noise.for_layer(-1, h)  # all layers at once
        return list(self.rho.inplace(h).unbind(0))

    def recurrent_matrix(self) -> torch.Tensor:
        """The scaled recurrent matrix W of s <- rho(W s + b), column-vector convention,
        (sum n_j, sum n_j): block [dst, src] = alpha W_b, block [src, dst] = beta B_b."""
        offsets = [0]
        for n in self.sizes:
            offsets.append(offsets[-1] + n)
        w = self.w_in.new_zeros(offsets[-1], offsets[-1])
        for k, b in enumerate(self.topology.blocks):
            d0, d1, s0, s1 = offsets[b.dst], offsets[b.dst + 1], offsets[b.src], offsets[b.src + 1]
            if b.forward:
                w[d0:d1, s0:s1] = self.alpha[k] * self.w_blocks[k].detach()
            if b.feedback:
                w[s0:s1, d0:d1] = self.beta[k] * self.feedback_operand(k).detach().t()
        return w

    def readout_state(self, relaxation: Relaxation[State]) -> torch.Tensor:
        """The state the readout sees: the last hidden layer's."""
        return relaxation.state[-1]

    def logits(self, s_last: torch.Tensor) -> torch.Tensor:
        """W_f s_L (+ b_f). (B, n_L) -> (B, n_out)"""
        out = s_last @ self.w_out.t()
        return out if self.b_out is None else out + self.b_out

    # -- feedforward twin (BP, FA) -------------------------------------------------------------
    def feedforward(self, x: torch.Tensor, feedback_alignment: bool = False,
                    offsets: Sequence[torch.Tensor] | None = None) -> tuple[State, torch.Tensor]:
        """The same net with feedback removed: s_{j} = rho(sum_b alpha_b W_b s_src), in topological order.

        With `feedback_alignment`, autograd's backward sends errors through the fixed random
        matrices F_b instead of W_b (Lillicrap et al. 2016). `offsets[j]`, when given, is added to
        layer j's pre-activation: a zero offset that requires grad exposes dL/dh_j (a bias gradient).
        """
        def linear(inp: torch.Tensor, w: torch.Tensor, f: torch.Tensor | None) -> torch.Tensor:
            return _FeedbackAlignedLinear.apply(inp, w, f) if f is not None else inp @ w.t()

        fa = feedback_alignment
        states: State = []
        for j in range(len(self.sizes)):
            h = self.input_drive(x) if j == 0 else 0.0
            for k, b in enumerate(self.topology.blocks):
                if b.dst == j and b.forward:
                    f = self.feedback_operand(k) if fa else None
                    h = h + self.alpha[k] * linear(states[b.src], self.w_blocks[k], f)
            if offsets is not None:
                h = h + offsets[j]
            states.append(self.rho.fn(h))
        logits = linear(states[-1], self.w_out, self.output_feedback_operand() if fa else None)
        return states, logits if self.b_out is None else logits + self.b_out
