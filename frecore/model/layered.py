"""The layered FRE-RNN: state layout, one synchronous update step, and its feedforward twin.

State: one tensor per hidden layer, `(B, n_j)` (members side by side: `(M, B, n_j)`). One step
updates every layer at once, `s_j <- rho(sum of scaled inputs into j)`, with

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
from frecore.model.activations import get_activation
from frecore.model.init import TORCH_DTYPES, init_bias, init_matrix
from frecore.model.noise import GaussianNoise
from frecore.model.protocol import Nudge
from frecore.model.relaxation import Relaxation, iterate

State = list[torch.Tensor]  # one (B, n_j) tensor per hidden layer ((M, B, n_j) for members side by side)
Scale = Union[float, torch.Tensor]  # a block's alpha or beta: a float, or (M, 1, 1) where members differ
Term = tuple[Scale, int, torch.Tensor]  # (scale, source layer, right-hand matrix)

BALANCE_MIN_MACS = 1 << 24  # per member: below this, bmm's own threading beats the split (bench/ensemble.py)


def member_matmul(a: torch.Tensor, b: torch.Tensor, add_to: torch.Tensor | None = None, alpha: float = 1.0,
                  threads: int | None = None, inplace: bool = False) -> torch.Tensor:
    """Per member `add_to + alpha * a @ b` (torch.bmm / torch.baddbmm), (M, B, n) x (M, n, k);
    with `inplace`, written into `add_to` (a tensor the caller owns: no copy of it is made).

    On the CPU torch's bmm hands whole members to its threads: with M not a multiple of the thread
    count one thread takes an extra member while the others wait (5 members of 500x512x512 on 2
    threads: 1.2x the time of 4 + 1). So large products there run the members that share out
    evenly as one bmm and the rest one at a time, each with every thread. Autograd (BP, FA) keeps
    plain bmm."""
    m, threads = a.shape[0], threads or torch.get_num_threads()
    even = m - m % threads
    if (a.device.type != "cpu" or threads < 2 or even in (0, m)
            or a.shape[1] * a.shape[2] * b.shape[2] < BALANCE_MIN_MACS
            or (torch.is_grad_enabled() and (a.requires_grad or b.requires_grad))):
        if add_to is None:
            return torch.bmm(a, b)
        return add_to.baddbmm_(a, b, alpha=alpha) if inplace else torch.baddbmm(add_to, a, b, alpha=alpha)
    if add_to is None:
        out = a.new_empty(m, a.shape[1], b.shape[2])
        torch.bmm(a[:even], b[:even], out=out[:even])
        for i in range(even, m):
            torch.mm(a[i], b[i], out=out[i])
    elif inplace:
        out = add_to
        out[:even].baddbmm_(a[:even], b[:even], alpha=alpha)
        for i in range(even, m):
            out[i].addmm_(a[i], b[i], alpha=alpha)
    else:
        out = a.new_empty(m, a.shape[1], b.shape[2])
        torch.baddbmm(add_to[:even], a[:even], b[:even], alpha=alpha, out=out[:even])
        for i in range(even, m):
            torch.addmm(add_to[i], a[i], b[i], alpha=alpha, out=out[i])
    return out


def state_matmul(a: torch.Tensor, b: torch.Tensor, add_to: torch.Tensor | None = None, alpha: float = 1.0,
                 inplace: bool = False) -> torch.Tensor:
    """`add_to + alpha * a @ b`, the one product the layered dynamics are written in: mm / addmm for
    one net's (B, n) states, member_matmul for members' (M, B, n)."""
    if a.dim() == 3:
        return member_matmul(a, b, add_to, alpha, inplace=inplace)
    if add_to is None:
        return torch.mm(a, b)
    return add_to.addmm_(a, b, alpha=alpha) if inplace else torch.addmm(add_to, a, b, alpha=alpha)


def _is(scale: Scale, value: float) -> bool:
    """Whether a block's scale is this float for every member (a per-member tensor never is)."""
    return isinstance(scale, float) and scale == value


class _FeedbackAlignedLinear(torch.autograd.Function):
    """y = x W^T forward (per member, with a leading member dimension); backward sends the error
    through a fixed matrix F instead of W."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, w: torch.Tensor, f: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(x, f)
        return x @ w.transpose(-1, -2)

    @staticmethod
    def backward(ctx, grad_out: torch.Tensor):
        x, f = ctx.saved_tensors
        return grad_out @ f, grad_out.transpose(-1, -2) @ x, None  # (B, n_in), (n_out, n_in)


class LayeredFRENet(nn.Module):
    """Feedback-regulated RNN over a chain of hidden layers with a softmax readout.

    Its dynamics are written once for one net and for members side by side
    (frecore.model.members.StackedLayeredNet: every weight (M, out, in), every state (M, B, n),
    a block's scale a float or (M, 1, 1), each member settling on its own: `iterate`)."""

    iterate = staticmethod(iterate)

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
            raise ConfigError("a block with only a forward or only a feedback half (agt_draw 'ordered') "
                              "needs feedback='random': tied feedback is the forward weight's transpose")
        init = cfg.init
        self.w_in = nn.Parameter(init_matrix(init, sizes[0], n_in, generator, dtype))  # W_0
        self.w_blocks = nn.ParameterList(
            [nn.Parameter(init_matrix(init, sizes[b.dst], sizes[b.src], generator, dtype))
             for b in self.topology.blocks])  # W_i: (n_dst, n_src)
        self.w_out = nn.Parameter(init_matrix(init, n_out, sizes[-1], generator, dtype))  # W_f
        # b_f: drawn after every weight, so a net without one starts from the same weights
        bias = init_bias(init, n_out, sizes[-1], generator, dtype) if cfg.readout_bias else None
        self.b_out = nn.Parameter(bias) if bias is not None else None
        if not self.symmetric:  # fixed random feedback, same init as the forward weights
            for k, b in enumerate(self.topology.blocks):
                self.register_buffer(f"fb_block{k}",
                                     init_matrix(init, sizes[b.dst], sizes[b.src], generator, dtype))
            self.register_buffer("fb_out", init_matrix(init, n_out, sizes[-1], generator, dtype))
        self.alpha = cfg.alpha
        self.beta = cfg.beta
        # One batched matmul over all blocks per step instead of a Python loop (equal widths only):
        # build_fre_net decides per device (use_batched); bench/graph_step.py measures both.
        self.batched = batched

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

    # -- structure ---------------------------------------------------------------------------
    def block_scales(self) -> list[tuple[Scale, Scale]]:
        """Per block, (alpha, beta)."""
        return [(float(a), float(b)) for a, b in zip(self.alpha, self.beta)]

    def coupling_terms(self) -> list[list[Term]]:
        """Per receiving layer, the (scale, source, matrix) terms of its recurrent input.

        Built once per phase; zero scales are dropped so beta_i = 0 costs nothing.
        """
        terms: list[list[Term]] = [[] for _ in self.sizes]
        for k, (b, (alpha, beta)) in enumerate(zip(self.topology.blocks, self.block_scales())):
            if b.forward and not _is(alpha, 0.0):
                terms[b.dst].append((alpha, b.src, self.w_blocks[k].transpose(-1, -2)))
            if b.feedback and not _is(beta, 0.0):
                terms[b.src].append((beta, b.dst, self.feedback_operand(k)))
        return terms

    # -- dynamics ----------------------------------------------------------------------------
    def input_drive(self, x: torch.Tensor) -> torch.Tensor:
        """W_0 x, computed once per phase. (B, n_in) -> (B, n_1)"""
        return state_matmul(x, self.w_in.transpose(-1, -2))

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
            h = external[j]  # an input: never written to; every later h is this step's own
            if state is not None:
                for scale, src, mat in terms[j]:
                    if src in zero:
                        continue
                    if differentiable:
                        h = scale * (state[src] @ mat) if h is None else h + scale * (state[src] @ mat)
                    elif h is None:
                        h = state_matmul(state[src], mat)
                        if not _is(scale, 1.0):  # (x * 1.0 is x)
                            h.mul_(scale)
                    elif isinstance(scale, float):  # fused, as addmm
                        h = state_matmul(state[src], mat, add_to=h, alpha=scale, inplace=h is not external[j])
                    else:  # members' own scales
                        h = h + state_matmul(state[src], mat).mul_(scale)
            if h is None:  # no input reaches this layer yet: rho(0)
                h = external[0].new_zeros(*external[0].shape[:-1], n)
            if noise is not None:
                h = h + noise.for_layer(j, h)  # noise entering like the bias b
            if differentiable:
                new.append(self.rho.fn(h))
            else:
                new.append(self.rho.inplace(h.clone() if h is external[j] else h))  # never overwrite an input
        return new

    def relax(self, drive: torch.Tensor, steps: int, start: Relaxation[State] | None = None,
              nudge: Nudge | None = None, tol: float | None = None, relative_to: State | None = None,
              record: bool = False, noise: GaussianNoise | None = None) -> Relaxation[State]:
        """`steps` synchronous updates from `start` (None: s = 0) under the input drive W_0 x
        (computed once by the caller, constant in a phase). `nudge` adds beta_f B_f e_p to the last
        layer's input, e_p read from the state each step starts from (or fixed). `tol`, `relative_to`:
        stop early (frecore.model.relaxation.iterate). `noise`: state noise added to every
        pre-activation at every step (Figures S12-S13; members: MemberNoise)."""
        batched = self.batched
        terms = self.batched_terms() if batched else self.coupling_terms()  # once per phase
        n_layers = len(self.sizes)
        external: list[torch.Tensor | None] = [drive] + [None] * (n_layers - 1)
        # Starting from s = 0 with rho(0) = 0, a layer stays exactly 0 until the input wave
        # reaches it; skipping what such layers send saves matmuls without changing a number.
        track_zero = not batched and self.rho.zero_at_origin and noise is None
        zero: frozenset[int] = frozenset()
        last_input = self._last_input(nudge)

        def step(state: State | None, previous: State | None) -> State:
            nonlocal zero
            ext = external
            if last_input is not None:
                extra = last_input(state) if callable(last_input) else last_input
                ext = list(external)
                ext[-1] = extra if ext[-1] is None else ext[-1] + extra
            new = (self.step_batched(state, ext, terms, noise) if batched
                   else self.step(state, ext, terms, zero, noise=noise))
            if track_zero:
                was_zero = zero if state is not None else frozenset(range(n_layers))
                zero = frozenset(j for j in range(n_layers)
                                 if ext[j] is None and all(src in was_zero for _, src, _ in terms[j]))
            return new

        return self.iterate(step, steps, start, tol=tol, relative_to=relative_to, record=record)

    def _last_input(self, nudge: Nudge | None
                    ) -> torch.Tensor | Callable[[State | None], torch.Tensor] | None:
        """The nudge as the last layer's extra input beta_f B_f e_p: a tensor when it is fixed,
        else a function of the state a step starts from."""
        if nudge is None:
            return None
        f_out = self.output_feedback_operand()  # B_f^T: (n_out, n_L)
        if not isinstance(nudge.error, torch.Tensor):
            return lambda s: (nudge.error(s) @ f_out).mul_(nudge.beta_f)
        unit = (nudge.error @ f_out).mul_(nudge.beta_f)  # (B, n_L)
        if not nudge.accumulating:
            return unit
        taken = [0]

        def accumulated(s: State | None) -> torch.Tensor:
            taken[0] += 1
            return unit * taken[0]
        return accumulated

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
        out = s_last @ self.w_out.transpose(-1, -2)
        return out if self.b_out is None else out + self.b_out.unsqueeze(-2)

    def batch_size(self, x: torch.Tensor) -> int:
        return x.shape[-2]

    def local_inputs(self, x: torch.Tensor, free: Relaxation[State]) -> list[torch.Tensor | None]:
        """What EP's local update is the vector-Jacobian product of: each layer's bottom-up input
        from the free state, W_0 x and sum_b W_b s_src^0 over its forward blocks (no alpha), then
        the logits W_f s_L^0 (+ b_f). The definition `local_gradients` computes directly (tested)."""
        s0 = free.state
        out: list[torch.Tensor | None] = [x @ self.w_in.transpose(-1, -2)] + [None] * (len(self.sizes) - 1)
        for k, b in enumerate(self.topology.blocks):
            if b.forward:
                h = s0[b.src] @ self.w_blocks[k].transpose(-1, -2)
                out[b.dst] = h if out[b.dst] is None else out[b.dst] + h
        return [*out, self.logits(s0[-1])]

    def local_gradients(self, x: torch.Tensor, free: Relaxation[State], ds: Sequence[torch.Tensor],
                        e_readout: torch.Tensor) -> list[torch.Tensor]:
        """The VJP of `local_inputs` with (ds_1 .. ds_L, e_p), summed over the batch, aligned with
        weights(): dW_0 = ds_1 x^T, dW_b = ds_dst (s_src^0)^T per forward block (zero for a
        feedback-only one), dW_f = e_p (s_L^0)^T, db_f = e_p. Written out, not through autograd,
        which would recompute every forward product (W_0 x included) on every batch."""
        s0 = free.state

        def outer(post: torch.Tensor, pre: torch.Tensor) -> torch.Tensor:  # post^T pre, per member if stacked
            return state_matmul(post.transpose(-1, -2), pre)

        blocks = [outer(ds[b.dst], s0[b.src]) if b.forward else torch.zeros_like(self.w_blocks[k])
                  for k, b in enumerate(self.topology.blocks)]
        readout = [outer(e_readout, s0[-1])] + ([] if self.b_out is None else [e_readout.sum(-2)])
        return [outer(ds[0], x), *blocks, *readout]

    # -- feedforward twin (BP, FA) -------------------------------------------------------------
    def feedforward(self, x: torch.Tensor, feedback_alignment: bool = False,
                    offsets: Sequence[torch.Tensor] | None = None) -> tuple[State, torch.Tensor]:
        """The same net with feedback removed: s_{j} = rho(sum_b alpha_b W_b s_src), in topological order.

        With `feedback_alignment`, autograd's backward sends errors through the fixed random
        matrices F_b instead of W_b (Lillicrap et al. 2016). `offsets[j]`, when given, is added to
        layer j's pre-activation: a zero offset that requires grad exposes dL/dh_j (a bias gradient).
        """
        def linear(inp: torch.Tensor, w: torch.Tensor, f: torch.Tensor | None) -> torch.Tensor:
            return _FeedbackAlignedLinear.apply(inp, w, f) if f is not None else inp @ w.transpose(-1, -2)

        fa = feedback_alignment
        states: State = []
        for j in range(len(self.sizes)):
            h = self.input_drive(x) if j == 0 else 0.0
            for k, (b, (alpha, _)) in enumerate(zip(self.topology.blocks, self.block_scales())):
                if b.dst == j and b.forward:
                    f = self.feedback_operand(k) if fa else None
                    h = h + alpha * linear(states[b.src], self.w_blocks[k], f)
            if offsets is not None:
                h = h + offsets[j]
            states.append(self.rho.fn(h))
        logits = linear(states[-1], self.w_out, self.output_feedback_operand() if fa else None)
        return states, logits if self.b_out is None else logits + self.b_out.unsqueeze(-2)
