"""Which runs may train side by side (frecore.model.members) and how their optimisers are built;
frecore.training.loop.fit_members trains them, each ending with the history, status and weights of
its own separate `fit`.

Members share everything but their seed (initial weights, batch order), alpha_i, beta_i, noise
stds, learning rates, weight decays, AGT graphs and (layered EP) beta_f: one relaxation and one
optimiser step advance all of them. EP and BP on layered and conv nets, FA, LRA and P-EP on
layered ones; `groupable` says which configs may share a pass (what each arch can do:
frecore.model.build.ARCH_SUPPORTS).
"""
from __future__ import annotations


import torch

from frecore.config import RunConfig
from frecore.model.build import supports
from frecore.model.members import StackedConvNet, StackedLayeredNet, StackedPrototypicalNet
from frecore.training.train import (OPTIMIZERS, build_optimizer, parameter_groups, resolve_device)

StackedNet = StackedLayeredNet | StackedConvNet | StackedPrototypicalNet


def shared_settings(cfg: RunConfig) -> dict:
    """What members must have in common: the config but its seed, alpha_i, beta_i, noise stds,
    learning rates, weight decays, beta_f and, for AGT graphs, the graph's seed and P (members over
    one set of layers may differ in blocks)."""
    d = cfg.to_dict()
    d["seed"], d["net"]["alpha"], d["net"]["beta"] = None, None, None
    d["noise"]["weight_std"], d["noise"]["state_std"] = None, None
    d["optim"]["lr"], d["optim"]["weight_decay"], d["rule"]["beta_f"] = None, None, None
    if cfg.net.topology == "agt":
        d["net"]["topology_seed"], d["net"]["agt_p"] = None, None
    return d


def groupable(cfgs: list[RunConfig]) -> bool:
    """Whether these runs can train side by side (MEMBER_RULES), with fixed T/K, and equal but for
    seed, alpha_i, beta_i, the noise stds, learning rates, weight decays, their AGT graphs and, for
    layered EP, beta_f."""
    c = cfgs[0]
    if not supports(c.net, f"{c.rule.name}-members"):
        return False
    if (c.rule.settle_tol is not None or c.rule.settle_tol_nudged is not None) and not supports(
            c.net, "settled-members"):
        return False  # layered EP members stop each at its own settled step; conv members fixed T/K
    if c.optim.train_last is not None:
        return False
    if not (c.rule.name == "ep" and supports(c.net, "members-differ-in-beta-f")) and any(
            x.rule.beta_f != c.rule.beta_f for x in cfgs[1:]):
        return False
    key = shared_settings(c)
    return all(shared_settings(x) == key for x in cfgs[1:])


def own_optimizers(cfgs: list[RunConfig]) -> bool:
    """Whether the members need optimiser groups of their own: they differ in learning rate or
    weight decay, or hold AGT graphs under a per-layer lr or decay (which follows each member's own
    matrices; the union of their graphs has other layers)."""
    rates = [(c.optim.lr, c.optim.weight_decay) for c in cfgs]
    per_layer = not all(isinstance(v, (int, float)) for v in rates[0])
    return (cfgs[0].net.topology == "agt" and per_layer) or any(r != rates[0] for r in rates[1:])


def member_optimizer(cfgs: list[RunConfig], nets: list, net: StackedNet) -> tuple[
        torch.optim.Optimizer, list | None]:
    """The stack's optimiser, and the members' own parameters where they have them (else None).

    Adam, AdamW and SGD are elementwise, so one optimiser over the stacked weights is M optimisers
    when the members share every lr and decay. Otherwise every member gets its own parameter groups
    (its lr and decay per layer, as its own run builds them) over leaf views of its slices of the
    stacked weights, so the update writes into the stack; `share_gradients` hands them their slices
    of the stacked gradients before each step."""
    if not own_optimizers(cfgs):
        return build_optimizer(cfgs[0], net), None
    members, groups = [], []
    for j, (c, own) in enumerate(zip(cfgs, nets)):
        views = iter([w.detach() for w in net.member_weights(j)])  # leaves sharing the stack's storage
        layers = [[next(views) for _ in layer] for layer in own.layer_params()]
        members.append([w for layer in layers for w in layer])
        groups += parameter_groups(c, layers)
    return OPTIMIZERS[cfgs[0].optim.name](groups), members


def share_gradients(net: StackedNet, members: list[list[torch.Tensor]]) -> None:
    """Give each member's own parameters its slices of the stacked gradients."""
    for j, params in enumerate(members):
        for p, g in zip(params, net.member_gradients(j), strict=True):
            p.grad = g


def worth_grouping(cfg: RunConfig) -> bool:
    """Whether a sweep should group runs like `cfg` (groupable ones can always train side by side):
    AGT members compute the union of their graphs' blocks, most of them zeros for each member, which
    costs more than it saves where matmuls, not launches, are the limit (Figure S8's P sweep: 0.67x
    on 2 CPU cores, bench/ensemble.py case 5); on CUDA the launches it saves dominate."""
    return cfg.net.topology != "agt" or resolve_device(cfg.device).type == "cuda"


def members_that_fit(cfg: RunConfig) -> int:
    """How many members of `cfg` one pass may hold: half the device's free memory over one member's
    estimated footprint (at least 1)."""
    from frecore.training.data import INPUT_SHAPES
    from frecore.training.resources import available_bytes, estimated_bytes

    shape, n_classes = INPUT_SHAPES[cfg.data.dataset]
    free = available_bytes(resolve_device(cfg.device))
    return max(1, int(free // 2 // estimated_bytes(cfg, shape, n_classes))) if free else 64
