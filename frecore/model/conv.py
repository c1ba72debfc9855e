"""The convolutional FRE-RNN (paper Figure 1b, Algorithm S2) and its feedforward twin.

Hidden layer i holds the activated output of conv i at full resolution, `s_i = rho(h_i)`:

    h_1 = Conv_0(x) + beta_1 MaxUnpool_1(ConvT_1(s_2))
    h_i = Conv_{i-1}(MaxPool(s_{i-1})) + beta_i MaxUnpool_i(ConvT_i(s_{i+1}))
    h_L = Conv_{L-1}(MaxPool(s_{L-1})) [+ beta_f MaxUnpool_L(Unflatten(B_f^T e_p))  nudged phase]
    logits = W_f Flatten(MaxPool(s_L))

ConvT_i is the transposed convolution with the forward kernel of Conv_i (symmetric feedback),
and every unpooling uses the indices of the pooling of the *current* state, computed in the
same step (NetConfig.pool_indices: or the step before's, as Table 2's conv code does, or the free
phase's, frozen through the nudged phase). `Conv_0(x)` is constant in a phase and computed once.
Conv layers have biases (the feedback paths do not); the readout has one with
NetConfig.readout_bias. With NetConfig.readout_lag = 1 the logits, the nudge's error and the
presynaptic inputs of the updates read the state one step back, as the authors' conv code holds them.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from frecore.model.activations import get_activation
from frecore.config import ConfigError, NetConfig
from frecore.model.init import TORCH_DTYPES, init_bias, init_kernel, init_matrix
from frecore.model.noise import GaussianNoise
from frecore.model.protocol import Nudge
from frecore.model.relaxation import Relaxation, iterate

ConvState = list[torch.Tensor]  # one (B, C_i, H_i, W_i) tensor per conv layer


def conv_shapes(cfg: NetConfig, input_shape: tuple[int, ...]) -> list[tuple[int, int, int]]:
    """(C, H, W) of each conv layer's state, before its pooling; ConfigError if a map vanishes."""
    _, h, w = input_shape
    shapes = []
    for i, out in enumerate(cfg.channels):
        if i > 0:
            h, w = h // 2, w // 2  # the previous layer's 2x2 max-pool
        h, w = h + 2 * cfg.padding - cfg.kernel + 1, w + 2 * cfg.padding - cfg.kernel + 1
        if h < 2 or w < 2:
            raise ConfigError(f"conv layer {i + 1} ({out} channels, kernel {cfg.kernel}, padding "
                              f"{cfg.padding}) leaves a {h}x{w} map from input {tuple(input_shape)}: too "
                              f"many layers or too large a kernel")
        shapes.append((out, h, w))
    return shapes


def _scaled(h: torch.Tensor, factor: float | torch.Tensor) -> torch.Tensor:
    """h times an alpha_i or beta_i: a float, or per channel for members side by side."""
    return h if isinstance(factor, float) and factor == 1.0 else h * factor


def _nonzero(factor: float | torch.Tensor) -> bool:
    return not (isinstance(factor, float) and factor == 0.0)


def max_pool(s: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """2x2 max-pool with its argmax indices, run in channels-last on the CPU: there that kernel is
    2.5-5x faster than the NCHW one (which took half of a conv EP batch), with the very same values
    and indices (tests/test_conv.py); the values come back channels-last, which the next conv reads.
    Other devices pool as they are (not measured there; the GPU numbers of docs/gpu.md used NCHW)."""
    if s.device.type == "cpu":
        s = s.contiguous(memory_format=torch.channels_last)
    return F.max_pool2d(s, 2, return_indices=True)


class ConvFRENet(nn.Module):
    """Conv -> rho -> max-pool chain with scaled transposed-conv feedback and a linear readout.

    Layout primitives (`image`, `batch_size`, `groups`, `unflatten_top`, `pooled_flat`) are the
    only places that know one net's tensor layout; members side by side
    (frecore.model.members.StackedConvNet) override them and reuse the dynamics."""

    groups = 1  # conv groups: M for members side by side, their channels folded together
    # memory layout of the convolutions' operands: grouped ones run in channels-last, where this
    # CPU's oneDNN kernels are fast (NCHW grouped conv_transpose: ~1.5x slower than one by one)
    layout = torch.contiguous_format

    def __init__(self, cfg: NetConfig, input_shape: tuple[int, ...], n_out: int,
                 generator: torch.Generator) -> None:
        super().__init__()
        if cfg.feedback != "symmetric":
            raise ConfigError("the conv FRE-RNN has symmetric (transposed-conv) feedback only; set "
                              "feedback='symmetric'")
        self.cfg = cfg
        self.input_shape = tuple(input_shape)
        self.rho = get_activation(cfg.activation)
        dtype = TORCH_DTYPES[cfg.dtype]
        self.shapes = conv_shapes(cfg, self.input_shape)
        in_channels = (self.input_shape[0], *cfg.channels[:-1])
        k2 = cfg.kernel * cfg.kernel
        convs, biases = [], []
        for i, o in zip(in_channels, cfg.channels):  # torch.nn's order: each layer's kernel, then its bias
            convs.append(nn.Parameter(init_kernel(o, i, cfg.kernel, generator, dtype, cfg.init)))
            biases.append(nn.Parameter(init_bias(cfg.init, o, i * k2, generator, dtype)))
        self.convs, self.biases = nn.ParameterList(convs), nn.ParameterList(biases)
        c, h, w = self.shapes[-1]
        self.pooled_top = (c, h // 2, w // 2)
        n_top = c * (h // 2) * (w // 2)
        self.w_out = nn.Parameter(init_matrix(cfg.init, n_out, n_top, generator, dtype))  # W_f
        bias = init_bias(cfg.init, n_out, n_top, generator, dtype) if cfg.readout_bias else None
        self.b_out = nn.Parameter(bias) if bias is not None else None
        self.alpha: list[float | torch.Tensor] = [float(a) for a in cfg.alpha]
        self.beta: list[float | torch.Tensor] = [float(b) for b in cfg.beta]

    # -- structure ---------------------------------------------------------------------------
    def weights(self) -> list[nn.Parameter]:
        return [p for group in self.layer_params() for p in group]

    def layer_params(self) -> list[list[nn.Parameter]]:
        """Per learning layer, input -> readout: [kernel_i, bias_i] for each conv, then [W_f (, b_f)]."""
        readout = [self.w_out] if self.b_out is None else [self.w_out, self.b_out]
        return [[w, b] for w, b in zip(self.convs, self.biases)] + [readout]

    # -- layout ------------------------------------------------------------------------------
    def image(self, x: torch.Tensor) -> torch.Tensor:
        """(B, features) -> (B, C, H, W)"""
        return x.view(x.shape[0], *self.input_shape)

    def batch_size(self, x: torch.Tensor) -> int:
        return x.shape[0]

    def unflatten_top(self, flat: torch.Tensor) -> torch.Tensor:
        """(B, n_top) -> (B, C_L, H_L/2, W_L/2)"""
        return flat.view(flat.shape[0], *self.pooled_top)

    def pooled_flat(self, s_top: torch.Tensor) -> torch.Tensor:
        """Flatten(MaxPool(s_L)), what W_f reads. (B, C_L, H_L, W_L) -> (B, n_top)"""
        return max_pool(s_top)[0].flatten(1)

    # -- operators ---------------------------------------------------------------------------
    def _conv(self, i: int, inp: torch.Tensor) -> torch.Tensor:
        return F.conv2d(inp.contiguous(memory_format=self.layout),
                        self.convs[i].contiguous(memory_format=self.layout), self.biases[i],
                        padding=self.cfg.padding, groups=self.groups)

    def _forward(self, i: int, pooled_below: torch.Tensor) -> torch.Tensor:
        """alpha_i Conv_i(MaxPool(s_i)) for i >= 1."""
        return _scaled(self._conv(i, pooled_below), self.alpha[i - 1])

    def _feedback(self, i: int, s_above: torch.Tensor, indices: torch.Tensor,
                  size: torch.Size) -> torch.Tensor:
        """MaxUnpool_i(ConvT_i(s_{i+1})): conv i's kernel transposed, unpooled at the current argmax."""
        back = F.conv_transpose2d(s_above.contiguous(memory_format=self.layout),
                                  self.convs[i].contiguous(memory_format=self.layout),
                                  padding=self.cfg.padding, groups=self.groups)
        return F.max_unpool2d(back, indices, 2, output_size=size[-2:])

    def _readout_feedback(self, e: torch.Tensor, indices: torch.Tensor, size: torch.Size) -> torch.Tensor:
        """MaxUnpool_L(Unflatten(W_f^T e)): the output error placed on the top layer's argmax units."""
        back = self.unflatten_top(e @ self.w_out)
        return F.max_unpool2d(back, indices, 2, output_size=size[-2:])

    # -- dynamics ----------------------------------------------------------------------------
    def input_drive(self, x: torch.Tensor) -> torch.Tensor:
        """Conv_0(x) with its bias, once per phase. (B, features) -> (B, C_1, H_1, W_1)"""
        return self._conv(0, self.image(x))

    def pool_indices_of(self, state: ConvState) -> list[torch.Tensor]:
        """The argmax indices of each layer's 2x2 max-pool."""
        return [max_pool(s)[1] for s in state]

    def step(self, state: ConvState | None, drive: torch.Tensor,
             error: torch.Tensor | None = None, beta_f: float | torch.Tensor = 0.0,
             indices: list[torch.Tensor] | None = None, noise: GaussianNoise | None = None,
             pooled: list[tuple[torch.Tensor, torch.Tensor]] | None = None) -> ConvState:
        """One synchronous update of every conv layer; `state=None` means s = 0.

        `error` (B, n_out), when given, nudges the top layer by beta_f MaxUnpool(W_f^T e); beta_f may
        be signed, or per channel for members side by side (frecore.rules.ep, random-sign).
        `indices`, when given, replace the current pooling's argmax in every unpooling. `pooled`,
        when given, is `state`'s pooling (`max_pool` of each layer) already computed.
        """
        n = len(self.convs)
        if state is None:  # s = 0: pooled zeros send only the biases upward, nothing comes back
            h = [drive] + [_scaled(self.biases[i].view(1, -1, 1, 1), self.alpha[i - 1]).expand(
                drive.shape[0], -1, *self.shapes[i][1:]) for i in range(1, n)]
        else:
            if pooled is None:
                pooled = [max_pool(s) for s in state]  # the current pooling
            idx = [p[1] for p in pooled] if indices is None else indices
            h = []
            for i in range(n):
                hi = drive if i == 0 else self._forward(i, pooled[i - 1][0])
                if i + 1 < n and _nonzero(self.beta[i]):
                    hi = hi + _scaled(self._feedback(i + 1, state[i + 1], idx[i], state[i].shape),
                                      self.beta[i])
                if i + 1 == n and error is not None and _nonzero(beta_f):
                    hi = hi + beta_f * self._readout_feedback(error, idx[i], state[i].shape)
                h.append(hi)
        if noise is not None:
            h = [hi + noise.for_layer(i, hi) for i, hi in enumerate(h)]
        g = self.cfg.damping
        if g == 1.0:
            return [self.rho.fn(hi) for hi in h]
        if state is None:  # damped from s = 0
            return [self.rho.fn(hi) * g for hi in h]
        # damped: s <- (1-g) s + g rho(h)
        return [si * (1.0 - g) + self.rho.fn(hi) * g for si, hi in zip(state, h)]

    def relax(self, drive: torch.Tensor, steps: int, start: Relaxation[ConvState] | None = None,
              nudge: Nudge | None = None, tol: float | None = None,
              relative_to: ConvState | None = None, record: bool = False,
              noise: GaussianNoise | None = None) -> Relaxation[ConvState]:
        """`steps` synchronous updates from `start` (None: zeros); `nudge` adds beta_f MaxUnpool(W_f^T
        e_p) to the top layer, e_p read from the state the step starts from (or the one before it,
        with readout_lag 1). `tol` and `relative_to` stop early (frecore.model.relaxation.iterate).

        Unpooling indices per NetConfig.pool_indices: 'current' pools the state the step starts
        from, 'previous' the state before it, 'free' the nudged phase's start (the free phase's).
        """
        if nudge is not None and nudge.accumulating:
            raise ConfigError("the accumulating nudge is the layered graph code's; conv nets take "
                              "nudge='constant'")
        lag, mode = self.cfg.readout_lag, self.cfg.pool_indices
        freeze = mode == "free" and nudge is not None and start is not None
        frozen = self.pool_indices_of(start.state) if freeze else None
        beta_f = nudge.beta_f if nudge is not None else 0.0

        last: list = [None, None]  # the state the step before started from, and its pooling

        def step(state: ConvState | None, previous: ConvState | None) -> ConvState:
            read = previous if lag else state
            e = nudge.error_at(read) if nudge is not None and read is not None else None
            indices = pooled = None
            if state is not None:
                pooled = [max_pool(s) for s in state]
                if mode == "previous" and previous is not None:  # pooled the step before, if it ran here
                    indices = ([p[1] for p in last[1]] if last[0] is previous
                               else self.pool_indices_of(previous))
                elif frozen is not None:
                    indices = frozen
                last[:] = [state, pooled]
            return self.step(state, drive, e, beta_f, indices, noise, pooled)

        return iterate(step, steps, start, tol=tol, relative_to=relative_to, record=record)

    def readout_state(self, relaxation: Relaxation[ConvState]) -> torch.Tensor:
        """The top layer the readout sees: the last state's, or the one before (readout_lag 1)."""
        if self.cfg.readout_lag and relaxation.previous is not None:
            return relaxation.previous[-1]
        return relaxation.state[-1]

    def logits(self, s_top: torch.Tensor) -> torch.Tensor:
        """W_f Flatten(MaxPool(s_L)) (+ b_f). (B, C, H, W) -> (B, n_out)"""
        out = self.pooled_flat(s_top) @ self.w_out.transpose(-1, -2)
        return out if self.b_out is None else out + self.b_out.unsqueeze(-2)

    def _update_inputs(self, x: torch.Tensor, free: Relaxation[ConvState]
                       ) -> tuple[list[torch.Tensor], torch.Tensor]:
        """The presynaptic inputs of EP's update: each conv's (pooled) free input and the top layer,
        from the free state, or one step back with readout_lag 1."""
        pre = free.previous if self.cfg.readout_lag and free.previous is not None else free.state
        return [self.image(x)] + [F.max_pool2d(s, 2) for s in pre[:-1]], pre[-1]

    def local_inputs(self, x: torch.Tensor, free: Relaxation[ConvState]) -> list[torch.Tensor]:
        """What EP's local update is the vector-Jacobian product of: each layer's bottom-up input
        Conv_i(MaxPool(s_i^0)) + bias_i (Conv_0(x) for the first; no alpha), then the logits. The
        definition `local_gradients` computes directly (tested)."""
        inputs, top = self._update_inputs(x, free)
        return [F.conv2d(inp, w, b, padding=self.cfg.padding, groups=self.groups)
                for inp, w, b in zip(inputs, self.convs, self.biases)] + [self.logits(top)]

    def local_gradients(self, x: torch.Tensor, free: Relaxation[ConvState], ds: list[torch.Tensor],
                        e_readout: torch.Tensor) -> list[torch.Tensor]:
        """The VJP of `local_inputs` with (ds_1 .. ds_L, e_p), summed over the batch, aligned with
        weights(): per conv, its kernel's correlation of ds with its input and ds summed over
        positions for its bias; W_f (and b_f) from e_p and the pooled top layer."""
        inputs, top = self._update_inputs(x, free)
        grads: list[torch.Tensor] = []
        for w, inp, d in zip(self.convs, inputs, ds):
            grads += [torch.nn.grad.conv2d_weight(inp, w.shape, d, padding=self.cfg.padding,
                                                  groups=self.groups),
                      d.sum(dim=(0, 2, 3))]
        grads.append(e_readout.transpose(-1, -2) @ self.pooled_flat(top))
        return grads if self.b_out is None else grads + [e_readout.sum(-2)]

    # -- feedforward twin (BP) -------------------------------------------------------------------
    def feedforward(self, x: torch.Tensor, feedback_alignment: bool = False,
                    offsets=None) -> tuple[ConvState, torch.Tensor]:
        """The same CNN with feedback removed: conv -> rho -> pool, then the linear readout."""
        if feedback_alignment:
            raise ConfigError("feedback alignment is implemented for layered nets only")
        states: ConvState = []
        inp = self.image(x)
        for i in range(len(self.convs)):
            h = self._conv(0, inp) if i == 0 else self._forward(i, inp)
            if offsets is not None:
                h = h + offsets[i]
            states.append(self.rho.fn(h))
            inp = F.max_pool2d(states[-1], 2)
        return states, self.logits(states[-1])
