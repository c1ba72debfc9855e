"""Run configuration as frozen dataclasses, validated on construction.

A run is fully described by a `RunConfig`: the network, the learning rule, the optimiser
and the data. Every field names the paper's symbol where it has one. Bad values raise
`ConfigError` with one message naming the value and what is allowed; the CLI turns that
into exit code 2.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any, Sequence

from frecore.config.base import (ACTIVATIONS, AGT_DRAWS, ARCHS, DATASETS, DEVICES, DTYPES, ESTIMATORS,
                                 FEEDBACK, FLOAT_MAX, INITS, NUDGES, OPTIMIZERS, POOL_INDICES, READOUT_ERRORS,
                                 SCHEDULERS, SEED_MAX, STATE_NOISE_MODELS, TOPOLOGIES, ConfigError,
                                 _check_bool, _check_choices, _check_in_dtype, _check_scale, _check_seed,
                                 _is_int, _per_block, _sequence, setting)
from frecore.config.rules import RULE_SETTINGS, EPSettings, PEPSettings, RelaxationSettings, RuleConfig

__all__ = ["ACTIVATIONS", "AGT_DRAWS", "ARCHS", "DATASETS", "DEVICES", "DTYPES", "ESTIMATORS", "FEEDBACK",
           "FLOAT_MAX", "INITS", "NUDGES", "OPTIMIZERS", "POOL_INDICES", "READOUT_ERRORS", "RULE_SETTINGS",
           "SCHEDULERS", "SEED_MAX", "STATE_NOISE_MODELS", "TOPOLOGIES", "ConfigError", "DataConfig",
           "EPSettings", "NOT_IDENTITY", "NetConfig", "NoiseConfig", "OptimConfig", "PEPSettings",
           "RelaxationSettings", "RuleConfig", "RunConfig", "drop_not_identity", "non_default_fields",
           "override", "run_config_from_dict", "setting"]

# Settings that say where a run's inputs live and what executes it, not what it computes: a sweep
# started with FRECORE_DATA=../shared/data resumes under /abs/path/shared/data, or on another device,
# and a checkpoint continues there (run ids and checkpoint keys leave them out).
NOT_IDENTITY = (("data", "root"), ("device",))


def drop_not_identity(settings: dict) -> dict:
    """`settings` (a config as a dict, nested by section) less NOT_IDENTITY's entries, in place."""
    for path in NOT_IDENTITY:
        section = settings
        for key in path[:-1]:
            section = section.get(key) if isinstance(section, dict) else None
        if isinstance(section, dict):
            section.pop(path[-1], None)
    return settings


@dataclass(frozen=True)
class NetConfig:
    """The network: a layered FRE-RNN (paper Fig. 1a) or a convolutional one (Fig. 1b).

    `hidden` sizes the layered chain; `channels`, `kernel` and `padding` the conv chain
    (each conv is followed by rho and a 2x2 max-pool; the readout is fully connected).
    alpha_i and beta_i have one value per hidden->hidden (or conv->conv) block.
    """

    hidden: tuple[int, ...] = setting((512, 512), "sizes of the hidden layers s_1..s_L (arch 'layered')",
                                      metavar="N")
    activation: str = setting("tanh", "rho; the paper's layered nets use tanh", choices=ACTIVATIONS)
    alpha: float | tuple[float, ...] = setting(
        1.0, "alpha_i, forward scale of hidden->hidden blocks: one value or one per block")
    beta: float | tuple[float, ...] = setting(
        0.01, "beta_i, feedback scale: one value or one per block (0.01 up to 4 layers)")
    feedback: str = setting("symmetric", "B_i = W_i^T (tied) or a fixed random matrix", choices=FEEDBACK)
    dtype: str = setting("float32", "the paper's default precision", choices=DTYPES)
    arch: str = setting("layered", "the layered FRE-RNN or the conv one", choices=ARCHS)
    channels: tuple[int, ...] = setting(
        (32, 64), "conv layers' output channels (arch 'conv'; MNIST: 32, 64)", metavar="C")
    kernel: int = setting(5, "conv kernel size (MNIST 5, CIFAR-10 3)")
    padding: int = setting(0, "conv zero padding (MNIST 0, CIFAR-10 1)")
    topology: str = setting(
        "chain",
        "the hidden layers' graph: the chain, residual (skips every skip_every), agt, or custom (skips)",
        choices=TOPOLOGIES)
    skip_every: int = setting(3, "residual: 1<->4, 4<->7, ... (paper Figure 3b)")
    agt_p: float = setting(0.2, "agt: probability of each non-adjacent pair (paper default 0.2)")
    topology_seed: int = setting(0, "agt: seed of the generator that draws the graph (not the run's seed)")
    skips: tuple[tuple[int, int], ...] = setting(
        (),
        "custom: extra forward blocks SRC:DST between hidden layers, 0-indexed, src < dst, e.g. 0:3 3:6",
        metavar="SRC:DST")
    agt_draw: str = setting(
        "unordered",
        "agt: each non-adjacent pair once, both directions; ordered: each direction apart",
        choices=AGT_DRAWS)
    init: str = setting(
        "glorot",
        "weight init: Glorot uniform, zero biases; torch: U(+-1/sqrt(fan_in)) for weights and biases",
        choices=INITS)
    readout_bias: bool = setting(
        False, "a learned bias on the readout W_f s_L + b_f (the authors' conv code has one)")
    pool_indices: str = setting(
        "current",
        "conv: unpool at this step's argmax, the previous step's, or the free phase's",
        choices=POOL_INDICES)
    readout_lag: int = setting(0, "conv: 1 reads the logits (and the nudge's error) from the state one step "
                                  "back")
    damping: float = setting(1.0, "conv: g of the damped step s <- (1 - g) s + g rho(h); 1 is the paper's "
                                  "update")

    def __post_init__(self) -> None:
        _check_choices(self)
        for name in ("hidden", "channels"):
            sizes = getattr(self, name)
            listed = isinstance(sizes, (list, tuple)) and len(sizes) > 0
            if not listed or not all(_is_int(h) and h >= 1 for h in sizes):
                raise ConfigError(f"{name} must be a non-empty list of positive integers, got "
                                  f"{getattr(self, name)!r}")
            object.__setattr__(self, name, tuple(sizes))
        if not isinstance(self.kernel, int) or isinstance(self.kernel, bool) or self.kernel < 1:
            raise ConfigError(f"kernel must be a positive integer, got {self.kernel!r}")
        if not isinstance(self.padding, int) or isinstance(self.padding, bool) or self.padding < 0:
            raise ConfigError(f"padding must be a non-negative integer, got {self.padding!r}")
        _check_bool("readout_bias", self.readout_bias)
        if not _is_int(self.readout_lag) or self.readout_lag not in (0, 1):
            raise ConfigError(f"readout_lag must be 0 or 1 (steps), got {self.readout_lag!r}")
        _check_scale("damping", self.damping, positive=True)
        if self.damping > 1:
            raise ConfigError(f"damping g mixes s <- (1 - g) s + g rho(h): it must be in (0, 1], got "
                              f"{self.damping!r}")
        conv_only = self.pool_indices != "current" or self.readout_lag or self.damping != 1.0
        if self.arch != "conv" and conv_only:
            raise ConfigError("pool_indices, readout_lag and damping are conv settings (arch 'conv')")
        if self.topology != "chain" and self.arch != "layered":
            raise ConfigError(f"topology {self.topology!r} needs arch 'layered' (conv nets are chains)")
        skips = _sequence("skips", self.skips)
        if not all(isinstance(p, (list, tuple)) and len(p) == 2 and all(_is_int(v) for v in p)
                   for p in skips):
            raise ConfigError(f"skips must be (src, dst) pairs of layer indices, got {self.skips!r}")
        object.__setattr__(self, "skips", tuple(tuple(p) for p in skips))
        if self.skips and self.topology != "custom":
            raise ConfigError("skips are only read with topology='custom'")
        if not _is_int(self.skip_every) or self.skip_every < 2:
            raise ConfigError(f"skip_every must be an integer >= 2, got {self.skip_every!r}")
        _check_seed("topology_seed", self.topology_seed)
        _check_scale("agt_p", self.agt_p)
        if self.agt_p > 1:
            raise ConfigError(f"agt_p is a probability, got {self.agt_p!r}")
        try:
            n_blocks = len(self.graph().blocks) if self.arch == "layered" else len(self.layers) - 1
        except ValueError as exc:
            raise ConfigError(f"skips: {exc}") from None
        # checked before broadcasting: a one-layer net has no block to carry them
        for name in ("alpha", "beta"):
            _check_in_dtype(name, getattr(self, name), self.dtype)
        object.__setattr__(self, "alpha", _per_block("alpha", self.alpha, n_blocks))
        object.__setattr__(self, "beta", _per_block("beta", self.beta, n_blocks))

    def graph(self):
        """The hidden-layer topology (frecore.config.graph.Topology) these settings describe."""
        from frecore.config import graph  # the submodule imports this package's names

        if self.topology == "residual":
            return graph.residual(self.hidden, self.skip_every)
        if self.topology == "agt":
            import torch  # the AGT graph is drawn with a torch.Generator (the authors' draws)

            return graph.agt(self.hidden, self.agt_p, torch.Generator().manual_seed(self.topology_seed),
                             ordered=self.agt_draw == "ordered")
        if self.topology == "custom":
            return graph.with_skips(self.hidden, self.skips)
        return graph.chain(self.hidden)

    @property
    def layers(self) -> tuple[int, ...]:
        """Hidden layer sizes (layered) or channels (conv): one entry per dynamical hidden layer."""
        return self.hidden if self.arch == "layered" else self.channels


def _scalar_or_per_weight(name: str, value: float | Sequence[float], *,
                          positive: bool) -> float | tuple[float, ...]:
    one = isinstance(value, (int, float)) and not isinstance(value, bool)
    values = (value,) if one else _sequence(name, value)
    if not values:
        raise ConfigError(f"{name} needs at least one value")
    for i, v in enumerate(values):
        _check_scale(f"{name}[{i}]" if len(values) > 1 else name, v, positive=positive)
    return float(values[0]) if len(values) == 1 else tuple(float(v) for v in values)


def _per_weight(name: str, value: float | tuple[float, ...], n_weights: int) -> tuple[float, ...]:
    if isinstance(value, float):
        return (value,) * n_weights
    if len(value) != n_weights:
        raise ConfigError(f"{name} lists {len(value)} values but the net has {n_weights} weight "
                          f"matrices (input -> readout order)")
    return value


@dataclass(frozen=True)
class OptimConfig:
    """torch.optim settings; `lr` and `weight_decay` are one value or one per weight matrix,
    ordered input -> readout (W_0, W_1, ..., W_f)."""

    name: str = setting("adam", "the optimiser", name="--optimizer", choices=OPTIMIZERS)
    lr: float | tuple[float, ...] = setting(
        1e-3,
        "learning rate: one value, or one per weight matrix in input -> readout order (Adam 1e-3 on MNIST, "
        "Table S2)")
    weight_decay: float | tuple[float, ...] = setting(
        0.0,
        "weight decay: one value, or one per weight matrix in input -> readout order (none for the layered "
        "nets, Table S3)")
    batch_size: int = setting(500, "samples per batch")
    epochs: int = setting(50, "passes over the training set")
    train_last: int | None = setting(
        None, "only the last N weight matrices learn, the readout counting as one (Figure S11); default: all")
    epoch_fraction: float = setting(1.0, "train on this share of each epoch's batches (quick profile of slow "
                                         "rows)")
    scheduler: str = setting(
        "none",
        "learning-rate schedule: none, or cosine annealing over the epochs to 1e-6 (the CIFAR-10 conv nets)",
        choices=SCHEDULERS)

    def __post_init__(self) -> None:
        _check_choices(self)
        if self.train_last is not None and (not _is_int(self.train_last) or self.train_last < 1):
            raise ConfigError(f"train_last must be a positive integer or None, got {self.train_last!r}")
        object.__setattr__(self, "lr", _scalar_or_per_weight("lr", self.lr, positive=True))
        object.__setattr__(self, "weight_decay",
                           _scalar_or_per_weight("weight_decay", self.weight_decay, positive=False))
        for name in ("batch_size", "epochs"):
            v = getattr(self, name)
            if not isinstance(v, int) or isinstance(v, bool) or v < 1:
                raise ConfigError(f"{name} must be an integer >= 1, got {v!r}")
        f = self.epoch_fraction
        if not isinstance(f, (int, float)) or isinstance(f, bool) or not 0.0 < f <= 1.0:
            raise ConfigError(f"epoch_fraction must be in (0, 1], got {f!r}")

    def lrs_for(self, n_weights: int) -> tuple[float, ...]:
        """One learning rate per weight matrix (input -> readout order)."""
        return _per_weight("lr", self.lr, n_weights)

    def weight_decays_for(self, n_weights: int) -> tuple[float, ...]:
        return _per_weight("weight_decay", self.weight_decay, n_weights)


@dataclass(frozen=True)
class DataConfig:
    dataset: str = setting("mnist", "the dataset", choices=DATASETS)
    root: str | None = setting(None, "dataset folder (default: $FRECORE_DATA, else ./data)",
                               name="--data-root")
    train_subset: int | None = setting(None, "use only the first N training samples (smoke profile); "
                                             "default: all")
    test_subset: int | None = setting(None, "use only the first N test samples; default: all")
    download: bool = setting(True, "never try torchvision's download when files are missing",
                             negate="--no-download")

    def __post_init__(self) -> None:
        _check_choices(self)
        for name in ("train_subset", "test_subset"):
            v = getattr(self, name)
            if v is not None and (not _is_int(v) or v < 1):
                raise ConfigError(f"{name} must be a positive integer or None, got {v!r}")
        if self.root is not None and not isinstance(self.root, str):
            raise ConfigError(f"root must be a folder path or None, got {self.root!r}")
        _check_bool("download", self.download)


@dataclass(frozen=True)
class NoiseConfig:
    """Gaussian noise for the robustness study (Appendix C.6, Figures S12-S13)."""

    weight_std: float = setting(
        0.0, "std of Gaussian noise added to every weight after each update (Figure S12)",
        name="--weight-noise")
    state_std: float = setting(
        0.0,
        "std of Gaussian noise added to every hidden pre-activation at every step, like the bias b",
        name="--state-noise")
    state_noise_in_training: bool = setting(
        True, "state noise at test time only (Figure S13)", negate="--state-noise-test-only")
    state_noise_model: str = setting(
        "fresh",
        "a new draw at every step (the text); batch: one draw per batch, kept through both phases",
        choices=STATE_NOISE_MODELS)

    def __post_init__(self) -> None:
        _check_choices(self)
        _check_scale("weight_std", self.weight_std)
        _check_scale("state_std", self.state_std)
        _check_bool("state_noise_in_training", self.state_noise_in_training)


@dataclass(frozen=True)
class RunConfig:
    net: NetConfig = field(default_factory=NetConfig)
    rule: RuleConfig = field(default_factory=RuleConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    data: DataConfig = field(default_factory=DataConfig)
    noise: NoiseConfig = field(default_factory=NoiseConfig)
    seed: int = setting(0, "the run's seed: initial weights, batch order, noise")
    device: str = setting("auto", "auto: CUDA when available, else CPU", choices=DEVICES)

    def __post_init__(self) -> None:
        _check_choices(self)
        _check_seed("seed", self.seed)
        self._check_representable()

    def _check_representable(self) -> None:
        """Every real setting must be a finite number in the run's dtype (1e308 is not a float32)."""
        limit = FLOAT_MAX[self.net.dtype]
        values = {"alpha": self.net.alpha, "beta": self.net.beta, "beta_f": self.rule.beta_f,
                  "lr": self.optim.lr, "weight_decay": self.optim.weight_decay,
                  "weight_noise": self.noise.weight_std, "state_noise": self.noise.state_std,
                  **{k: getattr(self.rule, k) for k in ("settle_tol", "settle_tol_nudged")
                     if getattr(self.rule, k) is not None}}
        for name, value in values.items():
            for v in (value if isinstance(value, tuple) else (value,)):
                if abs(v) > limit:
                    raise ConfigError(f"{name} = {v!r} is not representable in {self.net.dtype} "
                                      f"(largest {limit:.3g}); use a smaller value or dtype float64")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


_SECTIONS = {"net": NetConfig, "rule": RuleConfig, "optim": OptimConfig, "data": DataConfig,
             "noise": NoiseConfig}


def non_default_fields(cfg: RunConfig) -> dict[str, Any]:
    """The settings that differ from the defaults, per section: a run's identity that a new
    field with a default (added in a later version) leaves unchanged."""
    out: dict[str, Any] = {}
    for key, section in _SECTIONS.items():
        value, default = asdict(getattr(cfg, key)), asdict(section())
        diff = {k: v for k, v in value.items() if v != default[k]}
        if diff:
            out[key] = diff
    for key in ("seed", "device"):
        if getattr(cfg, key) != getattr(RunConfig, key):
            out[key] = getattr(cfg, key)
    return out


def run_config_from_dict(d: dict[str, Any]) -> RunConfig:
    """Inverse of `RunConfig.to_dict`; unknown keys fail loudly."""
    kwargs: dict[str, Any] = {}
    for key, value in d.items():
        if key in _SECTIONS:
            known = {f.name for f in fields(_SECTIONS[key])}
            unknown = set(value) - known
            if unknown:
                raise ConfigError(f"unknown {key} setting(s): {', '.join(sorted(unknown))}")
            value = {k: tuple(v) if isinstance(v, list) else v for k, v in value.items()}
            # recorded before the chain had its own name
            if key == "net" and value.get("topology") == "layered":
                value["topology"] = "chain"
            kwargs[key] = _SECTIONS[key](**value)
        elif key in ("seed", "device"):
            kwargs[key] = value
        else:
            raise ConfigError(f"unknown run setting {key!r}")
    return RunConfig(**kwargs)


def override(cfg: RunConfig, **sections: dict[str, Any]) -> RunConfig:
    """Return `cfg` with fields replaced per section, e.g. override(c, optim={"epochs": 3})."""
    changes: dict[str, Any] = {}
    for key, value in sections.items():
        if key in _SECTIONS:
            changes[key] = replace(getattr(cfg, key), **value)
        else:
            changes[key] = value
    return replace(cfg, **changes)
