"""The training loop, written once: `fit(cfg)` trains one net, `fit_members(cfgs)` trains M runs side
by side as one pass (frecore.model.members), each member ending with the history, status and
weights of its own separate `fit`. One run is a group of one whose member is the net itself
(`_Alone`: no member dimension, so its numbers are the plain net's); the loop, the divergence
guard, the probes, the deadline and the checkpoint format are the same for both.
"""
from __future__ import annotations

import json
import math
import time
from dataclasses import asdict
from functools import partial
from pathlib import Path
from typing import Any, Callable, Sequence

import torch
from tqdm.auto import tqdm

from frecore.config import ConfigError, RunConfig
from frecore.model.members import MemberStack, stack_members
from frecore.model.noise import GaussianNoise, MemberNoise, state_noise
from frecore.rules import LearningRule, build_rule
from frecore.training.data import Dataset, Split, batch_indices
from frecore.training.members import groupable, member_optimizer, members_that_fit, share_gradients
from frecore.training.train import (CHECK_EVERY, CHECKPOINT_VERSION, Deadline, EpochRecord, RunResult,
                                    _diverged, _generators, as_deadline, build_optimizer, build_scheduler,
                                    checkpoint_device, config_key, evaluate_members, load_checkpoint,
                                    pause_before_epoch, portable_key, prepare, restore_checkpoint,
                                    save_checkpoint, set_aside_checkpoint, state_copy)


class _Alone(MemberStack):
    """One net as a group of one: member 0 is the net itself, its tensors without a member dimension."""

    def __init__(self, net: torch.nn.Module) -> None:
        self.net, self.m = net, 1

    def weights(self) -> list[torch.Tensor]:
        return self.net.weights()

    def member_views(self, i: int, tensors: Sequence[torch.Tensor]) -> list[torch.Tensor]:
        return list(tensors)

    def unstack(self, i: int, net: torch.nn.Module) -> torch.nn.Module:
        return self.net


def fit(cfg: RunConfig, data: Dataset | None = None, progress: bool = True,
        on_epoch: Callable[[EpochRecord], None] | None = None,
        probe: Callable[..., dict[str, Any]] | None = None,
        checkpoint: Path | None = None, until: float | Deadline | None = None,
        keep_best: bool = False) -> RunResult:
    """Train one net with one rule; a run that diverges stops with status 'diverged'.

    Divergence: the epoch's loss or weights go non-finite, or (finite but exploded) its mean train
    or test cross-entropy exceeds DIVERGED_LOSS_FACTOR x ln(n_classes) (2303 for 10 classes). The
    message names which. `probe(net, data, cfg)`, when given, is measured before training and after
    every epoch (its time is not counted in the epoch's seconds). A probe with `reads_last_batch`
    set is also handed the rule (`rule=`), which keeps its last training batch's phases for it
    (`rule.keep_last`, `rule.last`: the per-neuron error of Figures S5-S7).

    `checkpoint`: a file written atomically after every epoch (weights, optimiser and scheduler
    state, every generator's state, history, status). If it exists when fit starts and holds this
    same config, training continues after its last epoch and ends with exactly the numbers of an
    uncut run; a damaged file or another config's is set aside (warning on stderr). The file is
    deleted when the run ends, ok or diverged: the result is then the record.

    `until` (time.time() seconds, or a Deadline; needs `checkpoint`): stop with RunPaused before an
    epoch that would end after it, judged by the last epoch's measured time (a campaign's budget), or
    before the next epoch once the Deadline is stopped.
    `keep_best`: RunResult.best_state holds the net's weights at its best test accuracy (the first
    epoch reaching it), as the paper reports that epoch; checkpoints carry it.
    """
    report = (lambda epoch, records: on_epoch(records[0])) if on_epoch is not None else None
    return _train([cfg], data, False, progress, report, probe, checkpoint, until, keep_best)[0]


def fit_members(cfgs: list[RunConfig], data: Dataset | None = None, checkpoint: Path | None = None,
                on_epoch: Callable[[int], None] | None = None, until: float | Deadline | None = None,
                probe: Callable[..., dict[str, Any]] | None = None,
                keep_best: bool = False) -> list[RunResult]:
    """Train `cfgs` side by side; one RunResult per config, as `fit(cfg)` would return it.

    `checkpoint`: as fit's, for the group (the same configs in the same order continue it).
    `on_epoch(epoch)` is called after each epoch's save. `until`, `keep_best`: as fit's.
    `probe(net, data, cfg)`: as fit's, measured on each member's own net (unstacked); a probe that
    reads the last training batch (`reads_last_batch`) needs its run's own rule, so such runs train
    alone (ConfigError here)."""
    if not cfgs:
        return []
    if probe is not None and getattr(probe, "reads_last_batch", False):
        raise ConfigError("a probe that reads the last training batch measures one run's rule: train these "
                          "runs alone")
    if not groupable(cfgs):
        raise ConfigError("these runs cannot train side by side (EP or BP on layered or conv nets, FA, LRA "
                          "or P-EP on layered ones; equal but for seed, alpha_i, beta_i, noise stds, lr, "
                          "weight decay, AGT graph and, for layered EP, beta_f; settling on layered nets "
                          "only)")
    report = (lambda epoch, records: on_epoch(epoch)) if on_epoch is not None else None
    return _train(cfgs, data, True, False, report, probe, checkpoint, until, keep_best)


def _train(cfgs: list[RunConfig], data: Dataset | None, stacked: bool, progress: bool,
           on_epoch: Callable[[int, list[EpochRecord | None]], None] | None,
           probe: Callable[..., dict[str, Any]] | None, checkpoint: Path | None,
           until: float | Deadline | None, keep_best: bool) -> list[RunResult]:
    """The loop behind fit (one net, `stacked` False) and fit_members (a stack of M)."""
    if until is not None and checkpoint is None:
        raise ConfigError("a deadline (until) needs a checkpoint to continue from")
    until = as_deadline(until)
    t_start = time.perf_counter()
    cfg, m = cfgs[0], len(cfgs)
    device, rule, data = prepare(cfg, data)
    for c in cfgs[1:]:  # what differs between members is checked for each of them
        build_rule(c.rule).check(c.net)
    if stacked and m > members_that_fit(cfg):
        raise ConfigError(f"{m} members of this net do not fit in half the device's free memory; "
                          f"train at most {members_that_fit(cfg)} side by side")
    order_gens = [torch.Generator().manual_seed(c.seed + 7919) for c in cfgs]  # each run's batch order
    noise_gens = [torch.Generator(device=device).manual_seed(c.seed + 104729) for c in cfgs]  # and noise
    nets = [rule.build_net(c.net, data.input_shape, data.n_classes, torch.Generator().manual_seed(c.seed),
                           device)
            for c in cfgs]
    net = stack_members(nets) if stacked else nets[0]
    group = net if stacked else _Alone(net)
    optimizer, own_params = member_optimizer(cfgs, nets, net) if stacked else (
        build_optimizer(cfg, net), None)
    if stacked and hasattr(rule, "for_members"):
        rule = rule.for_members([c.rule for c in cfgs], net)
    if hasattr(rule, "seed_streams"):
        rule.seed_streams([c.seed for c in cfgs])  # the rule's own random streams (EP random-sign), per run
    if probe is not None and getattr(probe, "reads_last_batch", False):
        rule.keep_last = True  # one run (fit_members refuses these): a rule with no last batch ignores it
        probe = partial(probe, rule=rule)
    scheduler = build_scheduler(cfg, optimizer)
    weight_noise = [GaussianNoise(c.noise.weight_std, g) if c.noise.weight_std > 0 else None
                    for c, g in zip(cfgs, noise_gens)]
    test_noises = [state_noise(c.noise.state_std, g, c.noise.state_noise_model)
                   for c, g in zip(cfgs, noise_gens)]
    if not stacked:
        test_noise = test_noises[0]
    else:
        test_noise = MemberNoise(test_noises, dim=net.member_dim) if any(n is not None
                                                                         for n in test_noises) else None
    train_noise = test_noise if cfg.noise.state_noise_in_training else None
    # (nothing draws from torch's global one)
    generators = _generators(rule, net, order_gens + noise_gens, test_noises)
    results = [RunResult(c, device=str(device)) for c in cfgs]
    active = [True] * m
    saved = _load(Path(checkpoint), cfgs, stacked, generators, net,
                  optimizer) if checkpoint is not None else None
    first_epoch, wall_before, pace_from, earlier = 1, 0.0, 1, ""
    if saved is not None:
        # moved: random streams this device's generators cannot take, saved on another kind of device
        first_epoch, wall_before, moved = restore_checkpoint(saved, net, optimizer, scheduler, generators)
        # the first epoch trained on this kind of device (a campaign reads its pace from there on), and
        # where the epochs before it ran: a result names every device that trained it
        pace_from, earlier = int(saved.get("pace_from", 1)), str(saved.get("earlier_devices", ""))
        before = checkpoint_device(saved)
        if before not in (None, device.type) or (before is None and moved):
            here = f"epochs {pace_from}-{saved['epoch']} on {before or 'another kind of device'}"
            pace_from, earlier = first_epoch, f"{earlier}, {here}" if earlier else here
        for r, s in zip(results, saved["members"], strict=True):
            r.earlier_devices = earlier
            r.history = [EpochRecord(**h) for h in s["history"]]
            r.status, r.message = s["status"], s["message"]
            r.probe_before = dict(s.get("probe_before", {}))
            r.best_state = s.get("best_state")
        active = list(saved["active"])
        if progress:
            tqdm.write(f"continuing from {checkpoint} after epoch {saved['epoch']}")
    elif probe is not None:
        # each member's initial net (nets[j]: a stack holds copies), as its own fit measures it
        for r, c, own in zip(results, cfgs, nets):
            r.probe_before = probe(own, data, c)
    take_step_counts = getattr(rule, "take_step_counts", None)
    last_epoch_s = None
    for epoch in range(first_epoch, cfg.optim.epochs + 1):
        pause_before_epoch(until, last_epoch_s, epoch, checkpoint)
        t_epoch = time.perf_counter()
        if take_step_counts is not None:
            take_step_counts()  # count this epoch's training batches only
        bar = tqdm(desc=f"{cfg.rule.name} epoch {epoch}/{cfg.optim.epochs}", disable=not progress,
                   leave=False, unit="batch")
        loss_sum, correct, seen, broke = _epoch(rule, net, group, optimizer, data.train, cfg, order_gens,
                                                active, own_params, weight_noise, train_noise, bar)
        bar.close()
        # per member: (M,) tensors when stacked
        steps = take_step_counts() if take_step_counts is not None else {}
        if scheduler is not None:
            scheduler.step()
        seconds = (time.perf_counter() - t_epoch) / m  # the pass's time, shared between its members
        test = evaluate_members(rule, net, data.test, active, test_noise, stacked)
        records: list[EpochRecord | None] = [None] * m
        for j, r in enumerate(results):
            if not active[j]:
                continue
            train_loss = float(loss_sum[j]) / seen
            weights_ok = all(bool(torch.isfinite(w).all()) for w in group.member_weights(j))
            if broke[j] or not (math.isfinite(train_loss) and weights_ok):
                why = f"non-finite loss or weights in epoch {epoch}"
                r.status, r.message, active[j] = "diverged", why, False
                continue
            test_loss, test_acc = test[j]
            if keep_best and test_acc > max((h.test_acc for h in r.history), default=-math.inf):
                r.best_state = state_copy(group.unstack(j, nets[j]))
            probed = probe(group.unstack(j, nets[j]), data, cfgs[j]) if probe is not None else {}
            member_steps = {k: float(v[j]) if torch.is_tensor(v) and v.dim() else float(v)
                            for k, v in steps.items()}
            records[j] = EpochRecord(epoch, train_loss, 100.0 * float(correct[j]) / seen, test_loss, test_acc,
                                     seconds, probed, member_steps)
            r.history.append(records[j])
            if progress:
                tqdm.write(f"epoch {epoch}{f' member {j}' if stacked else ''}: train "
                           f"{records[j].train_acc:.2f}% test {test_acc:.2f}% ({seconds:.1f}s)")
            why = _diverged(train_loss, test_loss, data.n_classes, epoch)
            if why:
                r.status, r.message, active[j] = "diverged", why, False
        if any(active) and checkpoint is not None:
            save_checkpoint(Path(checkpoint), {
                "version": CHECKPOINT_VERSION, "config": _key(cfgs, stacked), "epoch": epoch,
                "net": net.state_dict(),
                "optimizer": optimizer.state_dict(),
                "scheduler": scheduler.state_dict() if scheduler else None,
                "generators": [g.get_state() for g in generators], "active": active,
                "members": [{"history": [asdict(h)
                                         for h in r.history], "status": r.status, "message": r.message,
                             "probe_before": r.probe_before, "best_state": r.best_state} for r in results],
                "wall_s": wall_before + time.perf_counter() - t_start,
                "device": device.type, "pace_from": pace_from, "earlier_devices": earlier})
        if on_epoch is not None:
            on_epoch(epoch, records)
        if not any(active):
            break
        last_epoch_s = time.perf_counter() - t_epoch  # training, evaluation, probe and save
    if checkpoint is not None:
        Path(checkpoint).unlink(missing_ok=True)
    wall = wall_before + time.perf_counter() - t_start
    for j, r in enumerate(results):
        r.net = group.unstack(j, nets[j])
        r.wall_s = wall / m
    return results


def _epoch(rule: LearningRule, net: torch.nn.Module, group: MemberStack, optimizer: torch.optim.Optimizer,
           train: Split, cfg: RunConfig, order_gens: list[torch.Generator], active: list[bool],
           own_params: list | None, weight_noise: list[GaussianNoise | None], train_noise: Any,
           bar: tqdm | None = None) -> tuple[torch.Tensor, torch.Tensor, int, list[bool]]:
    """One pass over each member's own permutation of `train` (its `epoch_fraction` share of the
    batches): per member, (loss sum, correct, samples seen, whether its loss went non-finite). A
    member whose loss goes non-finite is frozen from then on, as its own run's epoch would end
    there; the pass ends when no member is left. Fresh weight noise after each update."""
    device, m = train.x.device, len(order_gens)
    orders = [batch_indices(len(train), cfg.optim.batch_size, g) for g in order_gens]
    n_batches = len(orders[0])
    if cfg.optim.epoch_fraction < 1.0:
        n_batches = max(1, round(cfg.optim.epoch_fraction * n_batches))
    if bar is not None:
        bar.reset(total=n_batches)
    loss_sum = torch.zeros(m, dtype=torch.float64, device=device)
    correct = torch.zeros(m, dtype=torch.int64, device=device)
    seen = 0
    broke = [False] * m
    frozen = torch.tensor([not a for a in active], device=device)
    snapshot = _snapshot(group, frozen)
    for i in range(n_batches):
        idx = (orders[0][i] if isinstance(group, _Alone) else torch.stack([o[i] for o in orders])).to(device)
        x, y = train.x[idx], train.y[idx]  # (B, ...) for one net, (M, B, ...) for a stack
        optimizer.zero_grad(set_to_none=True)
        if train_noise is not None:
            train_noise.new_batch()  # a per-batch draw (state_noise_model 'batch') is redrawn here
        stats = rule.compute_gradients(net, x, y, train_noise)
        group.mask_gradients()  # blocks a member's graph lacks stay zero
        if own_params is not None:
            share_gradients(net, own_params)
        optimizer.step()
        with torch.no_grad():
            for j, weights in snapshot.items():  # frozen members keep their weights
                for p, s in zip(group.member_weights(j), weights):
                    p.copy_(s)
            for j, noise in enumerate(weight_noise):
                if noise is not None and j not in snapshot:
                    for w in group.member_weights(j):
                        w.add_(noise.like(w))
        loss_sum += stats.loss_sum.to(torch.float64) * (~frozen)
        correct += stats.correct * (~frozen)
        seen += y.shape[-1]
        if (i + 1) % CHECK_EVERY == 0 or i + 1 == n_batches:
            for j in range(m):
                if active[j] and not broke[j] and not math.isfinite(float(loss_sum[j])):
                    broke[j] = True  # its run's epoch ends here: freeze it from now on
            if any(broke):
                newly = torch.tensor(broke, device=device) & ~frozen
                if newly.any():
                    frozen = frozen | newly
                    snapshot = _snapshot(group, frozen)
                if bool(frozen.all()):
                    break
            if bar is not None:
                bar.set_postfix(acc=f"{100.0 * float(correct.sum()) / (seen * m):.2f}%", refresh=False)
        if bar is not None:
            bar.update()
    return loss_sum, correct, seen, broke


def train_epoch(rule: LearningRule, net: torch.nn.Module, optimizer: torch.optim.Optimizer, train: Split,
                batch_size: int, generator: torch.Generator, fraction: float = 1.0) -> tuple[float, float]:
    """One epoch of one net, timed by bench/ (ep_vs_bp.py, table1_ratios.py): (mean loss, accuracy %)."""
    from frecore.config import OptimConfig

    cfg = RunConfig(optim=OptimConfig(batch_size=batch_size, epoch_fraction=fraction))
    loss, correct, seen, _ = _epoch(rule, net, _Alone(net), optimizer, train, cfg, [generator], [True], None,
                                    [None], None)
    return float(loss[0]) / seen, 100.0 * float(correct[0]) / seen


def _snapshot(group: MemberStack, frozen: torch.Tensor) -> dict[int, list[torch.Tensor]]:
    """Copies of the frozen members' weights, to put back after every optimiser step."""
    return {j: [w.detach().clone()
                for w in group.member_weights(j)] for j in range(len(frozen)) if bool(frozen[j])}


def _key(cfgs: list[RunConfig], stacked: bool) -> str:
    """What a checkpoint must have been written by: these configs, in this order, alone or side by side."""
    return json.dumps({"members": [config_key(c) for c in cfgs], "stacked": stacked})


def _load(path: Path, cfgs: list[RunConfig], stacked: bool, generators: list[torch.Generator],
          net: torch.nn.Module, optimizer: torch.optim.Optimizer) -> dict | None:
    """The checkpoint to continue from, or None. A single run's checkpoint of the format before the
    loop was one (history at the top, the init generator first) is read too."""
    legacy_group = json.dumps({"members": [config_key(c) for c in cfgs],
                               "streams": ["order",
                                           "noise"] + (["sign"] if len(generators) > 2 * len(cfgs) else [])})
    legacy = legacy_group if stacked else config_key(cfgs[0])
    saved = load_checkpoint(path, (_key(cfgs, stacked), legacy), net, optimizer)
    if saved is None:
        return None
    # fit's own format: history at the top, init generator first
    if portable_key(saved["config"]) == portable_key(legacy) and not stacked:
        saved = {**saved, "generators": saved["generators"][1:], "active": [True],
                 "members": [{k: saved.get(k)
                              for k in ("history", "status", "message", "probe_before", "best_state")}]}
    if len(saved.get("generators") or ()) != len(generators):
        set_aside_checkpoint(path, "its random generators differ")
        return None
    return saved
