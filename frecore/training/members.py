"""fit_members: train M runs side by side (frecore.model.members), each ending with the history,
status and weights of its own separate `fit`.

Members share everything but their seed (initial weights, batch order), alpha_i, beta_i, noise
stds, learning rates, weight decays, AGT graphs and (layered EP) beta_f: one relaxation and one
optimiser step advance all of them. A member that diverges is recorded as its own run
would be and frozen while the others go on. With `checkpoint`, a group cut by a time limit
continues from its last finished epoch, as a single run does (train.fit). EP and BP on layered and
conv nets, FA, LRA and P-EP on layered ones; `groupable` says which configs may share a pass.
"""
from __future__ import annotations

import json
import math
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any, Callable

import torch

from frecore.config import ConfigError, RunConfig
from frecore.model.members import StackedConvNet, StackedLayeredNet, StackedPrototypicalNet, stack_members
from frecore.model.noise import GaussianNoise, MemberNoise, state_noise
from frecore.rules import build_rule
from frecore.training.data import Dataset, batch_indices
from frecore.training.train import (CHECK_EVERY, CHECKPOINT_VERSION, OPTIMIZERS, EpochRecord, RunResult, _diverged,
                                    build_optimizer, build_scheduler, config_key, load_checkpoint,
                                    parameter_groups, pause_before_epoch, prepare, resolve_device,
                                    restore_checkpoint, save_checkpoint, state_copy)

StackedNet = StackedLayeredNet | StackedConvNet | StackedPrototypicalNet
MEMBER_RULES = {"layered": ("ep", "bp", "fa", "lra", "pep"), "conv": ("ep", "bp")}  # arch -> rules that run side by side
MEMBER_BETA_F = {("layered", "ep")}  # (arch, rule) whose members may differ in beta_f


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
    if c.rule.name not in MEMBER_RULES.get(c.net.arch, ()):
        return False
    if (c.rule.settle_tol is not None or c.rule.settle_tol_nudged is not None) and c.net.arch != "layered":
        return False  # layered EP members stop each at its own settled step; conv members fixed T/K
    if c.optim.train_last is not None:
        return False
    if (c.net.arch, c.rule.name) not in MEMBER_BETA_F and any(x.rule.beta_f != c.rule.beta_f for x in cfgs[1:]):
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


def member_optimizer(cfgs: list[RunConfig], nets: list, net: StackedNet) -> tuple[torch.optim.Optimizer, list | None]:
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


def fit_members(cfgs: list[RunConfig], data: Dataset | None = None, checkpoint: Path | None = None,
                on_epoch: Callable[[int], None] | None = None, until: float | None = None,
                probe: Callable[..., dict[str, Any]] | None = None, keep_best: bool = False) -> list[RunResult]:
    """Train `cfgs` side by side; one RunResult per config, as `fit(cfg)` would return it.

    `checkpoint`: a file written atomically after every epoch (stacked weights, optimiser and
    scheduler state, every member's batch-order generator, histories, statuses); a group that finds
    its own checkpoint (the same configs in the same order) continues after its last epoch and ends
    with exactly the numbers of an uncut pass. `on_epoch(epoch)` is called after each epoch's save.
    `until`: as fit's, a deadline before which the next epoch must end, else RunPaused.
    `probe(net, data, cfg)`: as fit's, measured on each member's own net (unstacked) before training
    and after each epoch; a probe that reads the last training batch (`reads_last_batch`) needs its
    run's own rule, so such runs train alone (ConfigError here). `keep_best`: as fit's, per member."""
    if not cfgs:
        return []
    if probe is not None and getattr(probe, "reads_last_batch", False):
        raise ConfigError("a probe that reads the last training batch measures one run's rule: train these runs alone")
    if until is not None and checkpoint is None:
        raise ConfigError("a deadline (until) needs a checkpoint to continue from")
    if not groupable(cfgs):
        raise ConfigError("these runs cannot train side by side (EP or BP on layered or conv nets, FA, LRA or P-EP on "
                          "layered ones; equal but for seed, alpha_i, beta_i, noise stds, lr, weight decay, AGT graph "
                          "and, for layered EP, beta_f; settling on layered nets only)")
    t_start = time.perf_counter()
    cfg = cfgs[0]
    device, rule, data = prepare(cfg, data)
    for c in cfgs[1:]:  # what differs between members is checked for each of them
        build_rule(c.rule).check(c.net)
    m = len(cfgs)
    if m > members_that_fit(cfg):
        raise ConfigError(f"{m} members of this net do not fit in half the device's free memory; "
                          f"train at most {members_that_fit(cfg)} side by side")
    order_gens = [torch.Generator().manual_seed(c.seed + 7919) for c in cfgs]  # each run's batch order
    noise_gens = [torch.Generator(device=device).manual_seed(c.seed + 104729) for c in cfgs]  # and noise, as fit's
    nets = [rule.build_net(c.net, data.input_shape, data.n_classes, torch.Generator().manual_seed(c.seed), device)
            for c in cfgs]
    net = stack_members(nets)
    optimizer, own_params = member_optimizer(cfgs, nets, net)
    if hasattr(rule, "for_members"):
        rule = rule.for_members([c.rule for c in cfgs], net)
    if hasattr(rule, "seed_streams"):
        rule.seed_streams([c.seed for c in cfgs])  # each member's own rule streams, as its fit seeds them
    scheduler = build_scheduler(cfg, optimizer)
    weight_noise = [GaussianNoise(c.noise.weight_std, g) if c.noise.weight_std > 0 else None
                    for c, g in zip(cfgs, noise_gens)]
    test_noises = [state_noise(c.noise.state_std, g, c.noise.state_noise_model) for c, g in zip(cfgs, noise_gens)]
    test_noise = (MemberNoise(test_noises, dim=net.member_dim)
                  if any(n is not None for n in test_noises) else None)
    train_noise = test_noise if cfg.noise.state_noise_in_training else None
    sign_gens = list(getattr(rule, "sign_gens", []))  # EP random-sign: one per member
    generators = order_gens + noise_gens + sign_gens
    results = [RunResult(c, device=str(device)) for c in cfgs]
    active = [True] * m
    streams = ["order", "noise"] + (["sign"] if sign_gens else [])
    key = json.dumps({"members": [config_key(c) for c in cfgs], "streams": streams})
    saved = load_checkpoint(Path(checkpoint), key, net, optimizer, generators) if checkpoint is not None else None
    first_epoch, wall_before = 1, 0.0
    if saved is not None:
        first_epoch, wall_before = restore_checkpoint(saved, net, optimizer, scheduler, generators)
        for r, s in zip(results, saved["members"], strict=True):
            r.history = [EpochRecord(**h) for h in s["history"]]
            r.status, r.message = s["status"], s["message"]
            r.probe_before = dict(s.get("probe_before", {}))
            r.best_state = s.get("best_state")
        active = list(saved["active"])
    elif probe is not None:  # each member's initial net (nets[j]: the stack holds copies), as its own fit measures it
        for r, c, own in zip(results, cfgs, nets):
            r.probe_before = probe(own, data, c)
    take_step_counts = getattr(rule, "take_step_counts", None)
    last_epoch_s = None
    for epoch in range(first_epoch, cfg.optim.epochs + 1):
        pause_before_epoch(until, last_epoch_s, epoch, checkpoint)
        t_epoch = time.perf_counter()
        if take_step_counts is not None:
            take_step_counts()  # count this epoch's training batches only
        orders = [batch_indices(len(data.train), cfg.optim.batch_size, g) for g in order_gens]
        n_batches = len(orders[0])
        if cfg.optim.epoch_fraction < 1.0:
            n_batches = max(1, round(cfg.optim.epoch_fraction * n_batches))
        loss_sum = torch.zeros(m, dtype=torch.float64, device=device)
        correct = torch.zeros(m, dtype=torch.int64, device=device)
        seen = 0
        broke = [False] * m  # a member whose loss went non-finite this epoch (its own run stops here)
        frozen = torch.tensor([not a for a in active], device=device)
        snapshot = _snapshot(net, frozen)
        for i in range(n_batches):
            idx = torch.stack([o[i] for o in orders]).to(device)  # (M, B)
            x, y = data.train.x[idx], data.train.y[idx]
            net.zero_grad(set_to_none=True)
            if train_noise is not None:
                train_noise.new_batch()
            stats = rule.compute_gradients(net, x, y, train_noise)
            net.mask_gradients()  # blocks a member's graph lacks stay zero
            if own_params is not None:
                share_gradients(net, own_params)
            optimizer.step()
            with torch.no_grad():
                for j, weights in snapshot.items():  # frozen members keep their weights
                    for p, s in zip(net.member_weights(j), weights):
                        p.copy_(s)
                for j, noise in enumerate(weight_noise):  # fresh weight noise after each update, as fit adds it
                    if noise is not None and j not in snapshot:
                        for w in net.member_weights(j):
                            w.add_(noise.like(w))
            loss_sum += stats.loss_sum.to(torch.float64) * (~frozen)
            correct += stats.correct * (~frozen)
            seen += y.shape[1]
            if (i + 1) % CHECK_EVERY == 0 or i + 1 == n_batches:
                for j in range(m):
                    if active[j] and not broke[j] and not math.isfinite(float(loss_sum[j])):
                        broke[j] = True  # its run's epoch ends here: freeze it from now on
                if any(broke):
                    newly = torch.tensor(broke, device=device) & ~frozen
                    if newly.any():
                        frozen = frozen | newly
                        snapshot = _snapshot(net, frozen)
        steps = take_step_counts() if take_step_counts is not None else {}  # per member: (M,) tensors
        if scheduler is not None:
            scheduler.step()
        seconds = (time.perf_counter() - t_epoch) / m  # the pass's time, shared between its members
        test = _evaluate(rule, net, data, active, test_noise)
        for j, r in enumerate(results):
            if not active[j]:
                continue
            train_loss = float(loss_sum[j]) / seen
            weights_ok = all(bool(torch.isfinite(w).all()) for w in net.member_weights(j))
            if broke[j] or not (math.isfinite(train_loss) and weights_ok):
                r.status, r.message, active[j] = "diverged", f"non-finite loss or weights in epoch {epoch}", False
                continue
            test_loss, test_acc = test[j]
            if keep_best and test_acc > max((h.test_acc for h in r.history), default=-math.inf):
                r.best_state = state_copy(net.unstack(j, nets[j]))
            probed = probe(net.unstack(j, nets[j]), data, cfgs[j]) if probe is not None else {}
            r.history.append(EpochRecord(epoch, train_loss, 100.0 * float(correct[j]) / seen, test_loss, test_acc,
                                         seconds, probed, steps={k: float(v[j]) for k, v in steps.items()}))
            why = _diverged(train_loss, test_loss, data.n_classes, epoch)
            if why:
                r.status, r.message, active[j] = "diverged", why, False
        if not any(active):
            break
        if checkpoint is not None:
            save_checkpoint(Path(checkpoint), {
                "version": CHECKPOINT_VERSION, "config": key, "epoch": epoch, "net": net.state_dict(),
                "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict() if scheduler else None,
                "generators": [g.get_state() for g in generators], "active": active,
                "members": [{"history": [asdict(h) for h in r.history], "status": r.status, "message": r.message,
                             "probe_before": r.probe_before, "best_state": r.best_state} for r in results],
                "wall_s": wall_before + time.perf_counter() - t_start})
        if on_epoch is not None:
            on_epoch(epoch)
        last_epoch_s = time.perf_counter() - t_epoch
    if checkpoint is not None:
        Path(checkpoint).unlink(missing_ok=True)
    wall = wall_before + time.perf_counter() - t_start
    for j, r in enumerate(results):
        r.net = net.unstack(j, nets[j])
        r.wall_s = wall / m
    return results


def _snapshot(net: StackedNet, frozen: torch.Tensor) -> dict[int, list[torch.Tensor]]:
    """Copies of the frozen members' weights, to put back after every optimiser step."""
    return {j: [w.detach().clone() for w in net.member_weights(j)] for j in range(len(frozen)) if bool(frozen[j])}


@torch.no_grad()
def _evaluate(rule, net: StackedNet, data: Dataset, active: list[bool], noise: MemberNoise | None = None,
              batch_size: int = 1000) -> list[tuple[float, float]]:
    """(mean cross-entropy, accuracy %) on the test split, per member (as train.evaluate per run)."""
    m = len(active)
    split = data.test
    loss = [torch.zeros((), dtype=torch.float64, device=split.x.device) for _ in range(m)]
    correct = [torch.zeros((), dtype=torch.int64, device=split.x.device) for _ in range(m)]
    for start in range(0, len(split), batch_size):
        x, y = split.x[start:start + batch_size], split.y[start:start + batch_size]
        if noise is not None:
            noise.new_batch()
        logits = rule.predict(net, x.unsqueeze(0).expand(m, -1, -1), noise)
        for j in range(m):
            if active[j]:
                loss[j] += torch.nn.functional.cross_entropy(logits[j], y, reduction="sum")
                correct[j] += (logits[j].argmax(1) == y).sum()
    n = len(split)
    return [(float(loss[j]) / n, 100.0 * float(correct[j]) / n) for j in range(m)]
