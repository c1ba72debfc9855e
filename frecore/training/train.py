"""fit(run_config) -> per-epoch metrics: optimiser, timing, divergence guard, progress bar,
per-epoch checkpoints that let a cut run continue."""
from __future__ import annotations

import io
import json
import math
import os
import sys
import time
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, Callable, Sequence

import torch
from tqdm.auto import tqdm

from frecore.config import DEVICES, ConfigError, RunConfig
from frecore.training.data import Dataset, Split, batch_indices, load_dataset
from frecore.training.resources import check_fits
from frecore.model.init import TORCH_DTYPES
from frecore.model.noise import GaussianNoise, state_noise
from frecore.model.protocol import Net
from frecore.rules import LearningRule, build_rule

CHECK_EVERY = 20  # batches between finiteness checks (each one syncs a GPU)
# A finite run diverged when its mean train or test cross-entropy exceeds this many times chance
# level ln(n_classes): 2303 on 10 classes. No run recorded ok in results/ comes within 13x of it
# (the largest, 175, is Table S1's conv beta_i = 1 cell), while an exploded run (lr 1e30) sits at ~1e30.
DIVERGED_LOSS_FACTOR = 1e3
CHECKPOINT_VERSION = 1


class RunPaused(Exception):
    """A run (or a group) stopped at an epoch boundary because its next epoch would not end before
    its deadline (`until`); its checkpoint holds every finished epoch, so the same call continues it."""

    def __init__(self, epoch: int, checkpoint: Path | None) -> None:
        super().__init__(f"paused after epoch {epoch}" + (f" (checkpoint {checkpoint})" if checkpoint else ""))
        self.epoch = epoch
        self.checkpoint = checkpoint


def pause_before_epoch(until: float | None, last_epoch_s: float | None, epoch: int,
                       checkpoint: Path | None) -> None:
    """Raise RunPaused when the next epoch, if it lasts as long as the last one measured in this
    process, would end after `until` (time.time() seconds). Without a checkpoint nothing could be
    continued, so a deadline needs one; the first epoch of a process always runs (the caller has
    checked that one fits)."""
    if until is None or last_epoch_s is None:
        return
    if time.time() + last_epoch_s > until:
        raise RunPaused(epoch - 1, checkpoint)


@dataclass
class EpochRecord:
    epoch: int
    train_loss: float  # mean cross-entropy of the predictions made during the epoch
    train_acc: float  # running accuracy during the epoch (prediction before each update), %
    test_loss: float
    test_acc: float  # %
    seconds: float  # training time of the epoch (of its trained fraction), evaluation excluded
    probe: dict[str, Any] = field(default_factory=dict)  # the run's probe after this epoch (floats, or lists of floats)
    steps: dict[str, float] = field(default_factory=dict)  # mean free/nudged steps per batch, when a tolerance stops them


@dataclass
class RunResult:
    config: RunConfig
    history: list[EpochRecord] = field(default_factory=list)
    status: str = "ok"  # ok | diverged
    message: str = ""
    wall_s: float = 0.0  # whole run: set-up, training and evaluation
    device: str = "cpu"
    probe_before: dict[str, float] = field(default_factory=dict)  # the probe on the initial net
    net: Net | None = field(default=None, repr=False)  # the trained net (in memory only)
    best_state: dict[str, torch.Tensor] | None = field(default=None, repr=False)  # keep_best: the net at its best epoch

    @property
    def best_test_acc(self) -> float:
        return max((h.test_acc for h in self.history), default=math.nan)

    @property
    def final_test_acc(self) -> float:
        return self.history[-1].test_acc if self.history else math.nan

    @property
    def best_train_acc(self) -> float:
        return max((h.train_acc for h in self.history), default=math.nan)

    def history_dicts(self) -> list[dict]:
        """One dict per epoch; 'steps' only where it was measured, so fixed-step histories read as before."""
        return [_record_dict(h) for h in self.history]


def state_copy(net: torch.nn.Module) -> dict[str, torch.Tensor]:
    """The net's state_dict, copied to the CPU: what a run keeps of its best epoch (keep_best)."""
    return {k: v.detach().to("cpu", copy=True) for k, v in net.state_dict().items()}


def _record_dict(h: EpochRecord) -> dict:
    d = asdict(h)
    if not d["steps"]:
        del d["steps"]
    return d


def resolve_device(name: str) -> torch.device:
    if name not in DEVICES:  # torch's own message for "tpu" is a RuntimeError traceback
        raise ConfigError(f"unknown device {name!r}; choose one of: {', '.join(DEVICES)}")
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ConfigError("device 'cuda' asked for but torch sees no CUDA device; use --device cpu or auto")
    return torch.device(name)


OPTIMIZERS = {"adam": torch.optim.Adam, "adamw": torch.optim.AdamW, "sgd": torch.optim.SGD}


def parameter_groups(cfg: RunConfig, layers: list[list[torch.Tensor]]) -> list[dict]:
    """One optimiser group per learning layer, with its own lr and decay (the last
    `train_last` layers only, when set)."""
    n = len(layers)
    first = 0 if cfg.optim.train_last is None else n - cfg.optim.train_last
    if first < 0:
        raise ConfigError(f"train_last={cfg.optim.train_last} but the net has only {n} weight matrices")
    return [{"params": params, "lr": lr, "weight_decay": wd}
            for params, lr, wd in list(zip(layers, cfg.optim.lrs_for(n), cfg.optim.weight_decays_for(n)))[first:]]


def build_optimizer(cfg: RunConfig, net: torch.nn.Module) -> torch.optim.Optimizer:
    """One parameter group per learning layer (`net.layer_params()`), with its own lr and decay."""
    return OPTIMIZERS[cfg.optim.name](parameter_groups(cfg, net.layer_params()))


def build_scheduler(cfg: RunConfig, optimizer: torch.optim.Optimizer) -> Any:
    """The run's learning-rate schedule, stepped once per epoch (None: constant rates)."""
    if cfg.optim.scheduler == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=cfg.optim.epochs, eta_min=1e-6)
    return None


@torch.no_grad()
def evaluate(rule: LearningRule, net: Net, split: Split, batch_size: int = 1000,
             noise: GaussianNoise | None = None) -> tuple[float, float]:
    """(mean cross-entropy, accuracy %) of the rule's prediction on a whole split."""
    loss = torch.zeros((), dtype=torch.float64, device=split.x.device)
    correct = torch.zeros((), dtype=torch.int64, device=split.x.device)
    for start in range(0, len(split), batch_size):
        x, y = split.x[start:start + batch_size], split.y[start:start + batch_size]
        if noise is not None:
            noise.new_batch()
        logits = rule.predict(net, x, noise)
        loss += torch.nn.functional.cross_entropy(logits, y, reduction="sum")
        correct += (logits.argmax(1) == y).sum()
    n = len(split)
    return float(loss) / n, 100.0 * float(correct) / n


def _weights_finite(net: Net) -> bool:
    return all(bool(torch.isfinite(w).all()) for w in net.weights())


def train_epoch(rule: LearningRule, net: torch.nn.Module, optimizer: torch.optim.Optimizer, train: Split,
                batch_size: int, generator: torch.Generator, bar: tqdm | None = None,
                weight_noise: GaussianNoise | None = None, fraction: float = 1.0,
                state_noise: GaussianNoise | None = None) -> tuple[float, float]:
    """One pass over a random permutation of `train`; (mean loss, running accuracy %).

    Stops early, returning a non-finite loss, as soon as a finiteness check fails. With
    `weight_noise`, every weight gets fresh Gaussian noise after each update. `fraction` < 1
    trains only the first that share of the epoch's (shuffled) batches.
    """
    device = train.x.device
    batches = batch_indices(len(train), batch_size, generator)
    if fraction < 1.0:
        batches = batches[:max(1, round(fraction * len(batches)))]
    if bar is not None:
        bar.reset(total=len(batches))
    loss_sum = torch.zeros((), dtype=torch.float64, device=device)
    correct = torch.zeros((), dtype=torch.int64, device=device)
    seen = 0
    for i, idx in enumerate(batches):
        idx = idx.to(device)
        x, y = train.x[idx], train.y[idx]
        optimizer.zero_grad(set_to_none=True)
        if state_noise is not None:
            state_noise.new_batch()  # a per-batch draw (state_noise_model 'batch') is redrawn here
        stats = rule.compute_gradients(net, x, y, state_noise)
        optimizer.step()
        if weight_noise is not None:
            with torch.no_grad():
                for w in net.weights():
                    w.add_(weight_noise.like(w))
        loss_sum += stats.loss_sum
        correct += stats.correct
        seen += y.shape[0]
        if (i + 1) % CHECK_EVERY == 0 or i + 1 == len(batches):
            if not math.isfinite(float(loss_sum)):
                break
            if bar is not None:
                bar.set_postfix(acc=f"{100.0 * float(correct) / seen:.2f}%", refresh=False)
        if bar is not None:
            bar.update()
    return float(loss_sum) / seen, 100.0 * float(correct) / seen


def divergence_bound(n_classes: int) -> float:
    """The mean cross-entropy above which a finite run counts as diverged (DIVERGED_LOSS_FACTOR x chance)."""
    return DIVERGED_LOSS_FACTOR * math.log(n_classes)


def _diverged(train_loss: float, test_loss: float, n_classes: int, epoch: int) -> str:
    """Why the run diverged after `epoch` ('' when it did not): a non-finite loss, or one above the bound."""
    if not math.isfinite(test_loss):
        return f"non-finite test loss after epoch {epoch}"
    bound = divergence_bound(n_classes)
    for name, loss in (("train", train_loss), ("test", test_loss)):
        if loss > bound:
            return (f"{name} loss {loss:.3g} after epoch {epoch} is above the divergence bound "
                    f"{DIVERGED_LOSS_FACTOR:g} x ln({n_classes}) = {bound:.4g}")
    return ""


def _generators(rule: LearningRule, net: torch.nn.Module, gens: Sequence[torch.Generator],
                noises: Sequence[Any]) -> list[torch.Generator]:
    """Every distinct generator a run draws from: fit's streams, then any held by the net's, rule's
    or noise objects' attributes (one level deep, or in a list there: EP's sign streams), in a fixed order."""
    found: list[torch.Generator] = []
    candidates: list[Any] = list(gens)
    for owner in (net, rule, *noises):
        if owner is not None:
            for _, v in sorted(vars(owner).items()):
                candidates += list(v) if isinstance(v, list) else [v]
    for g in candidates:
        if isinstance(g, torch.Generator) and all(g is not f for f in found):
            found.append(g)
    return found


def config_key(cfg: RunConfig) -> str:
    """What a checkpoint must have been written by to be loaded: this very config."""
    return json.dumps(cfg.to_dict(), sort_keys=True, default=str)


def save_checkpoint(path: Path, state: dict) -> None:
    """Write atomically: a temp file in the same folder, then os.replace (a cut leaves the old one)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        buffer = io.BytesIO()  # serialised first: torch's own writer turns a full disk into an opaque RuntimeError
        torch.save(state, buffer)
        with open(tmp, "wb") as f:
            f.write(buffer.getbuffer())
        os.replace(tmp, path)
    except OSError as exc:  # a full disk or a wrong kind of file is the set-up's fault, not the run's
        raise ConfigError(f"cannot write the checkpoint {path} ({exc.strerror or exc}); free space or fix "
                          f"{path.parent}, then rerun the same command (recorded runs are kept)") from None
    finally:
        if tmp.exists():
            tmp.unlink()


def load_checkpoint(path: Path, key: str, net: torch.nn.Module | None = None,
                    optimizer: torch.optim.Optimizer | None = None,
                    generators: Sequence[torch.Generator] | None = None) -> dict | None:
    """The checkpoint at `path` if it is a readable one written under `key` (config_key: this very
    config) whose tensors fit `net`, `optimizer` and `generators` (where given); otherwise None,
    and the run starts afresh: a damaged or foreign file is set aside (renamed, named in a
    warning on stderr), never deleted and never the run's failure."""
    for stale in path.parent.glob(f".{path.name}.*.tmp"):  # a save cut mid-write (one process per run)
        stale.unlink(missing_ok=True)
    if not path.is_file():
        return None
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
        if not isinstance(state, dict) or state.get("version") != CHECKPOINT_VERSION:
            raise ValueError("not a frecore checkpoint")
    except Exception as exc:  # truncated, corrupted or not ours: never worth losing the run over
        set_aside_checkpoint(path, f"damaged: {type(exc).__name__}: {' '.join(str(exc).split())[:160]}")
        return None
    if state.get("config") != key:
        set_aside_checkpoint(path, "it holds another config's run")
        return None
    why = checkpoint_mismatch(state, net, optimizer, generators)
    if why:
        set_aside_checkpoint(path, f"its tensors belong to another net: {why}")
        return None
    return state


def checkpoint_mismatch(state: dict, net: torch.nn.Module | None, optimizer: torch.optim.Optimizer | None,
                        generators: Sequence[torch.Generator] | None) -> str:
    """Why `state` cannot be restored into these objects ('' when it can): the net's tensor names,
    shapes and dtypes, the optimiser's parameter groups, the number of generators."""
    if net is not None:
        theirs, ours = state.get("net"), net.state_dict()
        if not isinstance(theirs, dict) or set(theirs) != set(ours):
            return "its parameter names differ"
        for name, t in ours.items():
            s = theirs[name]
            if not isinstance(s, torch.Tensor) or s.shape != t.shape or s.dtype != t.dtype:
                return f"{name} is {getattr(s, 'shape', type(s).__name__)}, the net's is {tuple(t.shape)}"
    if optimizer is not None:
        groups = (state.get("optimizer") or {}).get("param_groups") if isinstance(state.get("optimizer"), dict) else None
        ours_g = optimizer.state_dict()["param_groups"]
        if not isinstance(groups, list) or [len(g.get("params", ())) for g in groups if isinstance(g, dict)] != \
                [len(g["params"]) for g in ours_g]:
            return "its optimiser's parameter groups differ"
    if generators is not None and len(state.get("generators") or ()) != len(generators):
        return "its random generators differ"
    return ""


def set_aside_checkpoint(path: Path, why: str) -> Path | None:
    """Rename a checkpoint that cannot be used to <name>.set-aside[.N] (kept for a look, never
    loaded again), with a warning naming both; None when even that fails (then it stays)."""
    target = path.with_name(path.name + ".set-aside")
    n = 1
    while target.exists():
        target, n = path.with_name(f"{path.name}.set-aside.{n}"), n + 1
    try:
        os.replace(path, target)
    except OSError as exc:
        print(f"warning: ignoring checkpoint {path} ({why}); could not set it aside ({exc.strerror or exc}); "
              f"training the run from the start", file=sys.stderr)
        return None
    print(f"warning: checkpoint {path} set aside as {target.name} ({why}); training the run from the start",
          file=sys.stderr)
    return target


def restore_checkpoint(saved: dict, net: torch.nn.Module, optimizer: torch.optim.Optimizer,
                       scheduler: Any, generators: Sequence[torch.Generator]) -> tuple[int, float]:
    """Put a run's (or a group's) saved training state back; (first epoch to train, wall seconds so far)."""
    net.load_state_dict(saved["net"])
    optimizer.load_state_dict(saved["optimizer"])
    if scheduler is not None:
        scheduler.load_state_dict(saved["scheduler"])
    for g, st in zip(generators, saved["generators"], strict=True):
        g.set_state(st)
    return saved["epoch"] + 1, saved["wall_s"]


def prepare(cfg: RunConfig, data: Dataset | None = None) -> tuple[torch.device, LearningRule, Dataset]:
    """What a run needs before its net exists: its device, its rule (checked against the net), its
    data on that device in the net's dtype, and the check that the net fits in memory."""
    device = resolve_device(cfg.device)
    dtype = TORCH_DTYPES[cfg.net.dtype]
    rule = build_rule(cfg.rule)
    rule.check(cfg.net)
    if data is None:
        data = load_dataset(cfg.data, device=device, dtype=dtype)
    elif data.train.x.dtype != dtype or data.train.x.device != device:
        data = data.to(device, dtype)
    check_fits(cfg, data.input_shape, data.n_classes, device)  # before the net is allocated
    return device, rule, data


def fit(cfg: RunConfig, data: Dataset | None = None, progress: bool = True,
        on_epoch: Callable[[EpochRecord], None] | None = None,
        probe: Callable[..., dict[str, Any]] | None = None,
        checkpoint: Path | None = None, until: float | None = None, keep_best: bool = False) -> RunResult:
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
    uncut run; a damaged file or another config's is ignored (warning on stderr). The file is
    deleted when the run ends, ok or diverged: the result is then the record.

    `until` (time.time() seconds; needs `checkpoint`): stop with RunPaused before an epoch that
    would end after it, judged by the last epoch's measured time (a campaign's budget).

    `keep_best`: RunResult.best_state holds the net's weights at its best test accuracy (the first
    epoch reaching it), as the paper reports that epoch; checkpoints carry it.
    """
    if until is not None and checkpoint is None:
        raise ConfigError("a deadline (until) needs a checkpoint to continue from")
    t_start = time.perf_counter()
    device, rule, data = prepare(cfg, data)
    if hasattr(rule, "seed_streams"):
        rule.seed_streams([cfg.seed])  # the rule's own random streams (EP random-sign), from the run's seed
    init_gen = torch.Generator().manual_seed(cfg.seed)
    order_gen = torch.Generator().manual_seed(cfg.seed + 7919)  # a separate stream for batch order
    net = rule.build_net(cfg.net, data.input_shape, data.n_classes, init_gen, device)
    optimizer = build_optimizer(cfg, net)
    scheduler = build_scheduler(cfg, optimizer)
    result = RunResult(cfg, device=str(device), net=net)
    if probe is not None and getattr(probe, "reads_last_batch", False):
        rule.keep_last = True  # a rule that has no last batch to keep ignores it
        probe = partial(probe, rule=rule)
    saved = load_checkpoint(Path(checkpoint), config_key(cfg), net, optimizer) if checkpoint is not None else None
    if probe is not None and saved is None:
        result.probe_before = probe(net, data, cfg)
    noise_gen = torch.Generator(device=device).manual_seed(cfg.seed + 104729)  # a third stream, for noise
    n = cfg.noise
    weight_noise = GaussianNoise(n.weight_std, noise_gen) if n.weight_std > 0 else None
    test_state_noise = state_noise(n.state_std, noise_gen, n.state_noise_model)
    train_state_noise = test_state_noise if n.state_noise_in_training else None
    generators = _generators(rule, net, (init_gen, order_gen, noise_gen), (test_state_noise,))  # (nothing draws from torch's global one)
    first_epoch, wall_before = 1, 0.0
    if saved is not None:
        first_epoch, wall_before = restore_checkpoint(saved, net, optimizer, scheduler, generators)
        result.history = [EpochRecord(**h) for h in saved["history"]]
        result.status, result.message = saved["status"], saved["message"]
        result.probe_before = dict(saved["probe_before"])
        result.best_state = saved.get("best_state")
        if progress:
            tqdm.write(f"continuing from {checkpoint} after epoch {saved['epoch']}")
    take_step_counts = getattr(rule, "take_step_counts", None)
    last_epoch_s = None
    for epoch in range(first_epoch, cfg.optim.epochs + 1):
        pause_before_epoch(until, last_epoch_s, epoch, checkpoint)
        t_epoch = time.perf_counter()
        bar = tqdm(desc=f"{cfg.rule.name} epoch {epoch}/{cfg.optim.epochs}", disable=not progress,
                   leave=False, unit="batch")
        if take_step_counts is not None:
            take_step_counts()  # count this epoch's training batches only
        train_loss, train_acc = train_epoch(rule, net, optimizer, data.train, cfg.optim.batch_size, order_gen, bar,
                                            weight_noise, cfg.optim.epoch_fraction, train_state_noise)
        steps = take_step_counts() if take_step_counts is not None else {}
        bar.close()
        if scheduler is not None:
            scheduler.step()
        seconds = time.perf_counter() - t_epoch
        if not (math.isfinite(train_loss) and _weights_finite(net)):
            result.status = "diverged"
            result.message = f"non-finite loss or weights in epoch {epoch}"
            break
        test_loss, test_acc = evaluate(rule, net, data.test, noise=test_state_noise)  # probes: noiseless
        record = EpochRecord(epoch, train_loss, train_acc, test_loss, test_acc, seconds,
                             probe(net, data, cfg) if probe is not None else {}, steps)
        if keep_best and test_acc > max((h.test_acc for h in result.history), default=-math.inf):
            result.best_state = state_copy(net)
        result.history.append(record)
        if progress:
            tqdm.write(f"epoch {epoch}: train {record.train_acc:.2f}% test {test_acc:.2f}% ({seconds:.1f}s)")
        why = _diverged(train_loss, test_loss, data.n_classes, epoch)
        if why:
            result.status, result.message = "diverged", why
        elif checkpoint is not None:
            save_checkpoint(Path(checkpoint), {
                "version": CHECKPOINT_VERSION, "config": config_key(cfg), "epoch": epoch,
                "net": net.state_dict(), "optimizer": optimizer.state_dict(),
                "scheduler": scheduler.state_dict() if scheduler is not None else None,
                "generators": [g.get_state() for g in generators],
                "history": [asdict(h) for h in result.history], "status": result.status,
                "message": result.message, "probe_before": result.probe_before, "best_state": result.best_state,
                "wall_s": wall_before + time.perf_counter() - t_start})
        if on_epoch is not None:
            on_epoch(record)
        if why:
            break
        last_epoch_s = time.perf_counter() - t_epoch  # training, evaluation, probe and save
    if checkpoint is not None:
        Path(checkpoint).unlink(missing_ok=True)
    result.wall_s = wall_before + time.perf_counter() - t_start
    return result
