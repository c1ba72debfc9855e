"""The pieces of a run that frecore.training.loop's one loop (fit, fit_members) is made of: its
results (EpochRecord, RunResult), device, optimiser and schedule, evaluation, the divergence guard,
the generators it draws from, and per-epoch checkpoints that let a cut run continue."""
from __future__ import annotations

import hashlib
import io
import json
import math
import os
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Sequence

import torch

from frecore.config import DEVICES, ConfigError, RunConfig, drop_not_identity
from frecore.training.data import Dataset, Split, load_dataset
from frecore.training.resources import check_fits
from frecore.model.init import TORCH_DTYPES
from frecore.model.noise import GaussianNoise
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

    def __init__(self, epoch: int, checkpoint: Path | None, started: bool = True) -> None:
        where = f" (checkpoint {checkpoint})" if checkpoint else ""
        super().__init__(f"paused after epoch {epoch}{where}" if started
                         else "the deadline has passed: no further run starts")
        self.epoch = epoch
        self.checkpoint = checkpoint
        self.started = started

    def __reduce__(self) -> tuple:
        """Rebuilt from its arguments: a Ray worker returns a pause to the driver pickled."""
        return RunPaused, (self.epoch, self.checkpoint, self.started)


@dataclass
class Deadline:
    """When training pauses: before an epoch that would end after `at` (time.time() seconds), or before
    the next epoch at all once `stop()` is called. A signal handler stops a campaign this way without
    losing the epoch in progress (frecore.cli's campaign command)."""
    at: float = math.inf
    stopped: bool = False

    def stop(self) -> None:
        self.stopped = True

    def passed(self, after_s: float = 0.0) -> bool:
        """Whether work lasting `after_s` seconds from now would end after the deadline."""
        return self.stopped or time.time() + after_s > self.at


def as_deadline(until: float | Deadline | None) -> Deadline | None:
    return Deadline(float(until)) if isinstance(until, (int, float)) else until


def pause_before_epoch(until: Deadline | None, last_epoch_s: float | None, epoch: int,
                       checkpoint: Path | None) -> None:
    """Raise RunPaused when the deadline was stopped, or when the next epoch, if it lasts as long as
    the last one measured in this process, would end after it. Without a checkpoint nothing could
    be continued, so a deadline needs one; the first epoch of a process always runs on a time
    deadline (the caller has checked that one fits)."""
    if until is None:
        return
    if until.stopped or (last_epoch_s is not None and until.passed(last_epoch_s)):
        raise RunPaused(epoch - 1, checkpoint)


@dataclass
class EpochRecord:
    epoch: int
    train_loss: float  # mean cross-entropy of the predictions made during the epoch
    train_acc: float  # running accuracy during the epoch (prediction before each update), %
    test_loss: float
    test_acc: float  # %
    seconds: float  # training time of the epoch (of its trained fraction), evaluation excluded
    # the run's probe after this epoch (floats, or lists of floats)
    probe: dict[str, Any] = field(default_factory=dict)
    # mean free/nudged steps per batch, when a tolerance stops them
    steps: dict[str, float] = field(default_factory=dict)


@dataclass
class RunResult:
    config: RunConfig
    history: list[EpochRecord] = field(default_factory=list)
    status: str = "ok"  # ok | diverged
    message: str = ""
    wall_s: float = 0.0  # whole run: set-up, training and evaluation
    device: str = "cpu"
    # epochs continued from a checkpoint of another kind of device: 'epochs 1-17 on cuda' (else '')
    earlier_devices: str = ""
    probe_before: dict[str, float] = field(default_factory=dict)  # the probe on the initial net
    net: Net | None = field(default=None, repr=False)  # the trained net (in memory only)
    # keep_best: the net at its best epoch
    best_state: dict[str, torch.Tensor] | None = field(default=None, repr=False)

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
    """The device to train on. On CUDA, TF32 matmuls and convolutions are turned off for this process
    (cuDNN allows them by default): full float32 on every device, so a GPU's numbers compare with the
    CPU's."""
    if name not in DEVICES:  # torch's own message for "tpu" is a RuntimeError traceback
        raise ConfigError(f"unknown device {name!r}; choose one of: {', '.join(DEVICES)}")
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda" and not torch.cuda.is_available():
        raise ConfigError("device 'cuda' asked for but torch sees no CUDA device; use --device cpu or auto")
    if name == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
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
            for params, lr, wd in list(zip(layers, cfg.optim.lrs_for(n),
                                           cfg.optim.weight_decays_for(n)))[first:]]


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
    return evaluate_members(rule, net, split, [True], noise, stacked=False, batch_size=batch_size)[0]


@torch.no_grad()
def evaluate_members(rule: LearningRule, net: Net, split: Split, active: list[bool], noise: Any = None,
                     stacked: bool = True, batch_size: int = 1000) -> list[tuple[float, float]]:
    """evaluate per member of a stack (inputs repeated along the member dimension; an inactive
    member's numbers are not computed: (nan, nan)); `stacked` False: one net, `active` == [True]."""
    m = len(active)
    loss = [torch.zeros((), dtype=torch.float64, device=split.x.device) for _ in range(m)]
    correct = [torch.zeros((), dtype=torch.int64, device=split.x.device) for _ in range(m)]
    for start in range(0, len(split), batch_size):
        x, y = split.x[start:start + batch_size], split.y[start:start + batch_size]
        if noise is not None:
            noise.new_batch()
        logits = rule.predict(net, x.unsqueeze(0).expand(m, *x.shape) if stacked else x, noise)
        logits = logits if stacked else logits.unsqueeze(0)
        for j in range(m):
            if active[j]:
                loss[j] += torch.nn.functional.cross_entropy(logits[j], y, reduction="sum")
                correct[j] += (logits[j].argmax(1) == y).sum()
    n = len(split)
    return [(float(loss[j]) / n, 100.0 * float(correct[j]) / n) if active[j] else (math.nan, math.nan)
            for j in range(m)]


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


def portable_key(key: object) -> object:
    """A checkpoint's key (config_key, or a group's) less what a run id leaves out (NOT_IDENTITY: the
    device, the data's folder), so a run paused on a lent GPU, or on another machine, continues here."""
    try:
        obj = json.loads(key)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return key
    if isinstance(obj, dict) and isinstance(obj.get("members"), list):
        obj = {**obj, "members": [portable_key(m) for m in obj["members"]]}
    elif isinstance(obj, dict):
        drop_not_identity(obj)
    return json.dumps(obj, sort_keys=True, default=str)


def checkpoint_device(state: dict) -> str | None:
    """The kind of device ('cpu', 'cuda') a checkpoint's last epochs trained on; None where it does not
    say (a config's 'auto', or a format that did not record it)."""
    if state.get("device"):
        return str(state["device"])
    try:
        key = json.loads(state["config"])
        configs = [json.loads(m) for m in key["members"]] if "members" in key else [key]
        kinds = {str(c["device"]).split(":")[0] for c in configs}
    except (KeyError, TypeError, ValueError, AttributeError):
        return None
    return kinds.pop() if len(kinds) == 1 and kinds <= {"cpu", "cuda"} else None


def save_checkpoint(path: Path, state: dict) -> None:
    """Write atomically: a temp file in the same folder, then os.replace (a cut leaves the old one)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        # serialised first: torch's own writer turns a full disk into an opaque RuntimeError
        buffer = io.BytesIO()
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


def load_checkpoint(path: Path, key: str | tuple[str, ...], net: torch.nn.Module | None = None,
                    optimizer: torch.optim.Optimizer | None = None,
                    generators: Sequence[torch.Generator] | None = None) -> dict | None:
    """The checkpoint at `path` if it is a readable one written under `key` (config_key: this very
    config; or any of several keys, a format read for compatibility) whose tensors fit `net`, `optimizer` and
    `generators` (where given); otherwise None,
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
    keys = (key,) if isinstance(key, str) else key
    if portable_key(state.get("config")) not in {portable_key(k) for k in keys}:
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
        groups = (state.get("optimizer") or {}).get("param_groups") if isinstance(
            state.get("optimizer"), dict) else None
        ours_g = optimizer.state_dict()["param_groups"]
        if not isinstance(groups, list) or [len(g.get("params", ()))
                                            for g in groups if isinstance(g, dict)] != \
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
                       scheduler: Any, generators: Sequence[torch.Generator]) -> tuple[int, float, int]:
    """Put a run's (or a group's) saved training state back; (first epoch to train, wall seconds so far,
    random streams saved on another kind of device and so seeded from their saved states)."""
    net.load_state_dict(saved["net"])
    optimizer.load_state_dict(saved["optimizer"])
    if scheduler is not None:
        scheduler.load_state_dict(saved["scheduler"])
    moved = 0
    for g, st in zip(generators, saved["generators"], strict=True):
        if st.numel() == g.get_state().numel():
            g.set_state(st)
        else:  # saved on another kind of device, whose generator cannot continue here: seed one from it
            g.manual_seed(int.from_bytes(hashlib.sha256(st.numpy().tobytes()).digest()[:8], "little"))
            moved += 1
    if moved:
        print(f"note: the checkpoint was written on another kind of device; {moved} random stream(s) "
              f"continue from seeds drawn from their saved states (the same on every resume)",
              file=sys.stderr)
    return saved["epoch"] + 1, saved["wall_s"], moved


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
