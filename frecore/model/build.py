"""The net a rule trains, built from its config: the one place that knows every net class."""
from __future__ import annotations

import math

import torch
from torch import nn

from frecore.config import ConfigError, NetConfig
from frecore.config.graph import Topology
from frecore.model.conv import ConvFRENet
from frecore.model.layered import LayeredFRENet
from frecore.model.prototypical import ConvPrototypicalNet, LayeredPrototypicalNet


def use_batched(topology: Topology, device: torch.device | str) -> bool:
    """One bmm over all blocks per step, or a Python loop over them? bench/graph_step.py at 5-20
    layers of 64 (README 'Speed'): on this project's 2-core CPU the loop was as fast or faster
    (loop/batched 0.76-1.01), on an NVIDIA H200 the batched step won 2.2-10.8x. So CPUs loop and
    CUDA batches equal-width nets."""
    return torch.device(device).type == "cuda" and len(set(topology.sizes)) == 1 and len(topology.blocks) > 1


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
