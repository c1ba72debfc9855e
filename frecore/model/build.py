"""The net a rule trains, built from its config: the one place that knows every net class."""
from __future__ import annotations

import math

import torch
from torch import nn

from frecore.config import ConfigError, NetConfig
from frecore.config.graph import Topology
from frecore.model.conv import ConvFRENet, conv_shapes
from frecore.model.layered import LayeredFRENet
from frecore.model.prototypical import ConvPrototypicalNet, LayeredPrototypicalNet


def use_batched(topology: Topology, device: torch.device | str) -> bool:
    """One bmm over all blocks per step, or a Python loop over them? bench/graph_step.py at 5-20
    layers of 64 (README 'Speed'): on this project's 2-core CPU the loop was as fast or faster
    (loop/batched 0.76-1.01), on an NVIDIA H200 the batched step won 2.2-10.8x. So CPUs loop and
    CUDA batches equal-width nets."""
    return torch.device(device).type == "cuda" and len(set(topology.sizes)) == 1 and len(topology.blocks) > 1


# What each arch can do, for the checks that run before a net is built (a rule's `check`, grouping
# runs side by side): with the builders below, the one place outside the net classes that tells the
# archs apart (tests/test_protocol.py greps the rest of frecore/ for arch-string branches).
# '<rule>-members': that rule trains runs side by side on this arch (frecore.training.members).
ARCH_SUPPORTS: dict[str, frozenset[str]] = {
    "layered": frozenset({"feedback-alignment", "lra", "accumulating-nudge", "settled-members",
                          "members-differ-in-beta-f", "ep-members", "bp-members", "fa-members",
                          "lra-members", "pep-members"}),
    "conv": frozenset({"ep-members", "bp-members"}),
}
FEATURES = frozenset().union(*ARCH_SUPPORTS.values())


def supports(cfg: NetConfig, feature: str) -> bool:
    """Whether nets of `cfg`'s arch can do `feature` (one of FEATURES)."""
    if feature not in FEATURES:
        raise ValueError(f"unknown feature {feature!r}; known: {', '.join(sorted(FEATURES))}")
    return feature in ARCH_SUPPORTS[cfg.arch]


def check_input(cfg: NetConfig, input_shape: tuple[int, ...]) -> None:
    """ConfigError unless a net of `cfg` can read inputs of this shape (a conv net's maps must not
    vanish), before anything is built."""
    shape = _input_shape(input_shape, cfg)
    if cfg.arch == "conv":
        conv_shapes(cfg, shape)


def sizes(cfg: NetConfig, input_shape: tuple[int, ...], n_out: int) -> tuple[int, int]:
    """(weights, state units per sample) of the net `cfg` builds, counted without building it: what
    the memory check (frecore.training.resources) prices."""
    if cfg.arch == "conv":
        shapes = conv_shapes(cfg, input_shape)
        channels = [input_shape[0], *(c for c, _, _ in shapes)]
        params = sum(cfg.kernel ** 2 * a * b for a, b in zip(channels, channels[1:]))
        c, h, w = shapes[-1]
        return params + c * h * w * n_out, sum(c * h * w for c, h, w in shapes)
    hidden = cfg.hidden
    params = math.prod(input_shape) * hidden[0] + hidden[-1] * n_out
    params += sum(hidden[b.src] * hidden[b.dst] for b in cfg.graph().blocks)
    return params, sum(hidden) + n_out


def _input_shape(input_shape: int | tuple[int, ...], cfg: NetConfig) -> tuple[int, ...]:
    shape = (input_shape,) if isinstance(input_shape, int) else tuple(input_shape)
    if cfg.arch == "conv" and len(shape) != 3:
        raise ConfigError(f"a conv net needs image inputs (C, H, W), got input shape {shape}")
    return shape


def build_fre_net(cfg: NetConfig, input_shape: int | tuple[int, ...], n_out: int, generator: torch.Generator,
                  device: torch.device | str = "cpu") -> nn.Module:
    """The FRE-RNN of `cfg` (layered or conv) that EP, BP, FA and LRA train. `input_shape` is one
    sample's shape, (C, H, W) for conv nets; an int suffices for layered ones."""
    shape = _input_shape(input_shape, cfg)
    if cfg.arch == "conv":
        return ConvFRENet(cfg, shape, n_out, generator).to(device)
    topology = cfg.graph()
    net = LayeredFRENet(cfg, math.prod(shape), n_out, generator, batched=use_batched(topology, device))
    return net.to(device)


def build_prototypical_net(cfg: NetConfig, input_shape: int | tuple[int, ...], n_out: int,
                           generator: torch.Generator, device: torch.device | str = "cpu") -> nn.Module:
    """P-EP's energy-based net of `cfg` (dense or conv), the output layer inside the dynamics."""
    shape = _input_shape(input_shape, cfg)
    net = (LayeredPrototypicalNet(cfg, math.prod(shape), n_out, generator) if cfg.arch == "layered"
           else ConvPrototypicalNet(cfg, shape, n_out, generator))
    return net.to(device)
