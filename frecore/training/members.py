"""fit_members: train M runs side by side (frecore.model.members), each ending with the history,
status and weights of its own separate `fit`.

Members share everything but their seed (initial weights, batch order) and alpha_i, beta_i: one
relaxation and one optimiser step (Adam and SGD are elementwise, so one optimiser over stacked
weights is M optimisers) advance all of them. A member that diverges is recorded as its own run
would be and frozen while the others go on. Layered EP, BP and FA for now; `groupable` says which
configs may share a pass.
"""
from __future__ import annotations

import math
import time

import torch

from frecore.config import ConfigError, RunConfig
from frecore.model.members import StackedLayeredNet
from frecore.training.data import Dataset, batch_indices
from frecore.training.train import (CHECK_EVERY, EpochRecord, RunResult, _diverged, build_optimizer, prepare,
                                    resolve_device)

MEMBER_RULES = ("ep", "bp", "fa")


def _shared(cfg: RunConfig) -> dict:
    """What members must have in common: the config but its seed, alpha_i and beta_i."""
    d = cfg.to_dict()
    d["seed"], d["net"]["alpha"], d["net"]["beta"] = None, None, None
    return d


def groupable(cfgs: list[RunConfig]) -> bool:
    """Whether these runs can train side by side: layered EP, BP or FA, fixed T/K, no noise, and equal
    but for seed, alpha_i and beta_i (an AGT graph drawn per seed differs: not groupable)."""
    c = cfgs[0]
    if c.rule.name not in MEMBER_RULES or c.net.arch != "layered" or c.net.topology == "agt":
        return False
    if c.rule.settle_tol is not None or c.rule.settle_tol_nudged is not None:
        return False
    if c.noise.weight_std or c.noise.state_std or c.optim.train_last is not None:
        return False
    key = _shared(c)
    return all(_shared(x) == key for x in cfgs[1:])


def members_that_fit(cfg: RunConfig) -> int:
    """How many members of `cfg` one pass may hold: half the device's free memory over one member's
    estimated footprint (at least 1)."""
    from frecore.training.data import INPUT_SHAPES
    from frecore.training.resources import available_bytes, estimated_bytes

    shape, n_classes = INPUT_SHAPES[cfg.data.dataset]
    free = available_bytes(resolve_device(cfg.device))
    return max(1, int(free // 2 // estimated_bytes(cfg, shape, n_classes))) if free else 64


def fit_members(cfgs: list[RunConfig], data: Dataset | None = None) -> list[RunResult]:
    """Train `cfgs` side by side; one RunResult per config, as `fit(cfg)` would return it."""
    if not cfgs:
        return []
    if not groupable(cfgs):
        raise ConfigError("these runs cannot train side by side (layered EP, BP or FA, equal but for seed, "
                          "alpha_i and beta_i, no noise, no settling)")
    t_start = time.perf_counter()
    cfg = cfgs[0]
    device, rule, data = prepare(cfg, data)
    m = len(cfgs)
    if m > members_that_fit(cfg):
        raise ConfigError(f"{m} members of this net do not fit in half the device's free memory; "
                          f"train at most {members_that_fit(cfg)} side by side")
    order_gens = [torch.Generator().manual_seed(c.seed + 7919) for c in cfgs]  # each run's batch order
    nets = [rule.build_net(c.net, data.input_shape, data.n_classes, torch.Generator().manual_seed(c.seed), device)
            for c in cfgs]
    net = StackedLayeredNet(nets)
    optimizer = build_optimizer(cfg, net)
    scheduler = (torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=cfg.optim.epochs, eta_min=1e-6)
                 if cfg.optim.scheduler == "cosine" else None)
    results = [RunResult(c, device=str(device)) for c in cfgs]
    active = [True] * m
    for epoch in range(1, cfg.optim.epochs + 1):
        t_epoch = time.perf_counter()
        orders = [batch_indices(len(data.train), cfg.optim.batch_size, g) for g in order_gens]
        n_batches = len(orders[0])
        if cfg.optim.epoch_fraction < 1.0:
            n_batches = max(1, round(cfg.optim.epoch_fraction * n_batches))
        loss_sum = torch.zeros(m, dtype=torch.float64, device=device)
        correct = torch.zeros(m, dtype=torch.int64, device=device)
        seen = 0
        broke = [False] * m  # a member whose loss went non-finite this epoch (its own run stops here)
        frozen = torch.tensor([not a for a in active], device=device)
        snapshot = [p.detach().clone() for p in net.weights()] if frozen.any() else None
        for i in range(n_batches):
            idx = torch.stack([o[i] for o in orders]).to(device)  # (M, B)
            x, y = data.train.x[idx], data.train.y[idx]
            optimizer.zero_grad(set_to_none=True)
            stats = rule.compute_gradients(net, x, y)
            optimizer.step()
            if snapshot is not None:  # frozen members keep their weights
                with torch.no_grad():
                    for p, s in zip(net.weights(), snapshot):
                        p[frozen] = s[frozen]
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
                        snapshot = [p.detach().clone() for p in net.weights()]
        if scheduler is not None:
            scheduler.step()
        seconds = (time.perf_counter() - t_epoch) / m  # the pass's time, shared between its members
        test = _evaluate(rule, net, data, active)
        for j, r in enumerate(results):
            if not active[j]:
                continue
            train_loss = float(loss_sum[j]) / seen
            weights_ok = all(bool(torch.isfinite(w[j]).all()) for w in net.weights())
            if broke[j] or not (math.isfinite(train_loss) and weights_ok):
                r.status, r.message, active[j] = "diverged", f"non-finite loss or weights in epoch {epoch}", False
                continue
            test_loss, test_acc = test[j]
            r.history.append(EpochRecord(epoch, train_loss, 100.0 * float(correct[j]) / seen, test_loss, test_acc,
                                         seconds))
            why = _diverged(train_loss, test_loss, data.n_classes, epoch)
            if why:
                r.status, r.message, active[j] = "diverged", why, False
        if not any(active):
            break
    wall = time.perf_counter() - t_start
    for j, r in enumerate(results):
        r.net = net.unstack(j, nets[j])
        r.wall_s = wall / m
    return results


@torch.no_grad()
def _evaluate(rule, net: StackedLayeredNet, data: Dataset, active: list[bool],
              batch_size: int = 1000) -> list[tuple[float, float]]:
    """(mean cross-entropy, accuracy %) on the test split, per member (as train.evaluate per run)."""
    m = len(active)
    split = data.test
    loss = [torch.zeros((), dtype=torch.float64, device=split.x.device) for _ in range(m)]
    correct = [torch.zeros((), dtype=torch.int64, device=split.x.device) for _ in range(m)]
    for start in range(0, len(split), batch_size):
        x, y = split.x[start:start + batch_size], split.y[start:start + batch_size]
        logits = rule.predict(net, x.unsqueeze(0).expand(m, -1, -1))
        for j in range(m):
            if active[j]:
                loss[j] += torch.nn.functional.cross_entropy(logits[j], y, reduction="sum")
                correct[j] += (logits[j].argmax(1) == y).sum()
    n = len(split)
    return [(float(loss[j]) / n, 100.0 * float(correct[j]) / n) for j in range(m)]
