"""The registry's machinery: what a row is, the profiles, run identity, and how tables register.

Each table or figure family lives in its own module of this package and registers a function
returning its rows with `@register_experiment`; `discover` imports those modules (no list of
them is kept anywhere). This module holds no table data and imports only `frecore.config` and
the standard library, so importing the registry loads no torch.

Profiles decide scale, never settings: `paper` is the published protocol (epochs, batch, T/K,
5 seeds); `quick` keeps every setting but trains fewer epochs and seeds on the full dataset,
sized for a 2-core CPU; `smoke` runs one epoch on a data subset in seconds (CI, nbval).

Readings: where the paper's text and the authors' code differ, a row runs by default the reading
whose saved output equals the paper's number (`Row.reading`: 'code', or 'text' where the code's
output does not match), and keeps the other as a named variant (`Row.variants`, `--variant`);
`Row.provenance` records each differing setting with its source (docs/provenance.md).
"""
from __future__ import annotations

import hashlib
import importlib
import json
import pkgutil
from dataclasses import dataclass, field, replace
from typing import Callable, Sequence

from frecore.config import (DTYPES, ESTIMATORS, ConfigError, NetConfig, RunConfig, drop_not_identity,
                            non_default_fields, override)


@dataclass(frozen=True)
class PaperResult:
    test_acc: float  # mean best test accuracy over 5 runs, %
    test_std: float  # NaN where the paper gives no std (Table S1)
    train_acc: float | None  # best training accuracy, %
    wct_s: float | None  # wall-clock time of one whole run (authors: RTX A5000), seconds
    protocol: str  # "epochs/batch-T/K" as printed in the table


# the authors' code (its saved output) and the paper's text (Table S3, algorithms)
READINGS = ("code", "text")


@dataclass(frozen=True)
class Setting:
    """One setting where the paper's text and the authors' code differ: a line of docs/provenance.md."""

    name: str  # e.g. "learning rates"
    text: str  # what the paper's text says (Table S3, an algorithm)
    code: str  # what the authors' code does
    source: str  # file and cell (or function) of the authors' repository, Zero0Hero/FRE-RNN-EP
    evidence: str = ""  # why the default is the reading it is (a saved output, a measurement)
    # which reading we run for this setting when it is not the row's default reading ('text', 'code')
    ours: str = ""


@dataclass(frozen=True)
class Row:
    label: str  # unique in its experiment, e.g. "2HL Ours (tanh, Adam)"
    arch: str  # the table's architecture column (a figure's panel)
    approach: str  # the table's training-approach column (a figure's x value)
    config: RunConfig  # the paper's settings for this row
    paper: PaperResult | None  # None for figure points the paper gives no number for
    quick_epochs: int  # epochs in the quick profile
    note: str = ""  # how we read the paper where it is ambiguous
    # quick profile: share of each epoch's batches trained (rows too slow for one epoch)
    quick_fraction: float = 1.0
    quick_seeds: tuple[int, ...] | None = None  # quick profile: these seeds instead of the profile's
    # the default config's reading: 'paper' (text and code agree, or no code), 'code', 'text'
    reading: str = "paper"
    # other readings by name
    variants: dict[str, RunConfig] = field(default_factory=dict, hash=False, compare=False)
    provenance: tuple[Setting, ...] = ()  # the settings where text and code differ
    # Where a figure shows a run another experiment trains (Figures S1-S7 draw Table S1's cells): that
    # experiment's name. The row keeps the owner's label and config, so it plans the owner's run ids:
    # one training, recorded once in the owner's runs CSV (with the owner's probe), read by both.
    owner: str | None = None
    probe: str | None = None  # this row's runs' probe in place of the experiment's (Experiment.probe)
    # where the row sits in its figure, as numbers (beta_i, alpha_i, depth, T, P, n_ll, noise stds):
    # summary columns that plots read, never parsed back out of a label
    coords: dict[str, float] = field(default_factory=dict, hash=False, compare=False)

    def reading_config(self, variant: str | None = None) -> tuple[str, RunConfig]:
        """(reading name, config) for `variant`; the default where the row has no such variant
        (its text and code agree there, or only one is known)."""
        if variant is None or variant == self.reading or variant not in self.variants:
            return self.reading, self.config
        return variant, self.variants[variant]


@dataclass(frozen=True)
class Profile:
    name: str
    seeds: tuple[int, ...]
    train_subset: int | None = None
    test_subset: int | None = None
    epochs: int | None = None  # None: the row's epochs for this profile


PROFILES: dict[str, Profile] = {
    "smoke": Profile("smoke", seeds=(0,), train_subset=1000, test_subset=500, epochs=1),
    "quick": Profile("quick", seeds=(0, 1)),
    "paper": Profile("paper", seeds=(0, 1, 2, 3, 4)),
}


@dataclass(frozen=True)
class PlannedRun:
    experiment: str
    row: Row
    profile: str
    seed: int
    config: RunConfig
    reading: str = "paper"  # which reading of the row this run is (Row.reading_config)

    @property
    def run_id(self) -> str:
        return run_id(self.experiment, self.row.label, self.profile, self.config)


def identity_fields(config: RunConfig) -> dict:
    """The non-default settings that make a run what it is (non_default_fields less NOT_IDENTITY)."""
    fields_ = drop_not_identity(non_default_fields(config))
    return {k: v for k, v in fields_.items() if v != {}}


def run_id(experiment: str, row: str, profile: str, config: RunConfig) -> str:
    """Stable identity for resume: what ran, not when, where its data lives or on what device.
    Built from the settings that differ from the defaults, so adding a new setting (with a
    default) keeps earlier results resumable."""
    key = json.dumps([experiment, row, profile, identity_fields(config)], sort_keys=True, default=str)
    return hashlib.sha1(key.encode()).hexdigest()[:12]


@dataclass(frozen=True)
class Experiment:
    name: str
    rows: Callable[[], list[Row]]
    plot: str = "accuracy_curves"  # a figure function in frecore.reporting.plots.PLOTS
    # a probe in frecore.analysis.probes.PROBES: run before training and after each epoch (a Row.probe
    # overrides it)
    probe: str | None = None
    # a study beyond the paper (experiments/studies.py): no figure of the paper, no notebook
    study: bool = False


EXPERIMENTS: dict[str, Experiment] = {}


def register_experiment(fn: Callable[[], list[Row]] | None = None, *, plot: str = "accuracy_curves",
                        probe: str | None = None, study: bool = False):
    """Register a function returning an experiment's rows, under the function's name.

    Two different functions under one name are refused: with modules found rather than listed,
    a copied module would otherwise replace a table silently. Re-registering the same function
    (a module reloaded) replaces its entry."""
    def register(f: Callable[[], list[Row]]) -> Callable[[], list[Row]]:
        known = EXPERIMENTS.get(f.__name__)
        if known is not None and (known.rows.__module__, known.rows.__qualname__) != (
                f.__module__, f.__qualname__):
            raise ConfigError(f"experiment {f.__name__!r} is registered twice: by {known.rows.__module__} "
                              f"and by {f.__module__}")
        EXPERIMENTS[f.__name__] = Experiment(f.__name__, f, plot, probe, study)
        return f
    return register(fn) if fn is not None else register


def unregister(name: str) -> None:
    """Remove an experiment (a test's temporary table); unknown names are refused."""
    get_experiment(name)
    del EXPERIMENTS[name]


# modules of a tables package that register nothing
INFRASTRUCTURE = frozenset({"registry", "common", "campaign"})


def discover(package: str = "frecore.experiments") -> list[str]:
    """Import every module of `package` (but `registry`, `common` and private `_*` ones), so that
    their `@register_experiment` functions fill EXPERIMENTS; return the names its modules registered.

    `frecore.experiments` runs this for itself on import; a package of tables kept outside frecore
    calls it once before running them (docs/extending.md). Importing twice registers nothing twice."""
    pkg = importlib.import_module(package)
    for info in pkgutil.iter_modules(pkg.__path__):
        if info.name not in INFRASTRUCTURE and not info.name.startswith("_"):
            importlib.import_module(f"{package}.{info.name}")
    return sorted(name for name, e in EXPERIMENTS.items() if e.rows.__module__.startswith(package + "."))


def list_experiments(studies: bool = True) -> list[str]:
    """Every registered name; without the studies (the paper's tables and figures only) if not `studies`."""
    return sorted(name for name, e in EXPERIMENTS.items() if studies or not e.study)


def get_experiment(name: str) -> Experiment:
    if name not in EXPERIMENTS:
        raise ConfigError(f"unknown experiment {name!r}; known: {', '.join(list_experiments())}")
    return EXPERIMENTS[name]


def get_rows(name: str) -> list[Row]:
    return get_experiment(name).rows()


def shared_rows(owner: str, labels: Sequence[str]) -> list[Row]:
    """Rows of `owner` (in the order of `labels`) as a figure's rows: the same runs (Row.owner)."""
    rows = {r.label: r for r in get_rows(owner)}
    unknown = [label for label in labels if label not in rows]
    if unknown:
        raise ConfigError(f"{owner} has no row(s) {unknown}")
    return [replace(rows[label], owner=rows[label].owner or owner) for label in labels]


def _redraw_agt(net: NetConfig, topology_seed: int | None = None, **changes) -> NetConfig:
    """The AGT net with another graph (seed or draw); its uniform alpha/beta re-broadcast to the new block
    count."""
    if topology_seed is not None:
        changes["topology_seed"] = topology_seed
    scales = {}
    for name in ("alpha", "beta"):
        values = set(getattr(net, name))
        if len(values) != 1:
            raise ConfigError(f"an AGT row redraws its graph per seed, so its {name} must be one value")
        scales[name] = values.pop()
    return replace(net, **changes, **scales)


def check_variant(variant: str | None) -> str | None:
    """None or 'default' -> None (each row's default reading); otherwise a name in READINGS."""
    if variant in (None, "default"):
        return None
    if variant not in READINGS:
        raise ConfigError(f"unknown variant {variant!r}; choose one of: default, {', '.join(READINGS)}")
    return variant


def selection(rows: object = None, seeds: object = None) -> tuple[list[str] | None, list[int] | None]:
    """Rows and seeds as a caller may give them (papermill passes `-p rows "2HL BP (tanh, Adam)"` as
    one string and `-p seeds 5` as an int): a label or a list of labels; a seed, a list of seeds
    or a string of them ("0 1", "0,1"). Anything else is refused with one message."""
    if isinstance(rows, str):
        rows = [rows]
    if rows is not None:
        if not isinstance(rows, (list, tuple)) or not all(isinstance(r, str) for r in rows) or not rows:
            raise ConfigError(f"rows must be a row label or a non-empty list of labels, got {rows!r}")
        rows = list(rows)
    if isinstance(seeds, str):
        try:
            seeds = [int(v) for v in seeds.replace(",", " ").split()]
        except ValueError:
            raise ConfigError(f"seeds must be integers, got {seeds!r}") from None
    elif isinstance(seeds, int) and not isinstance(seeds, bool):
        seeds = [seeds]
    if seeds is not None:
        if (not isinstance(seeds, (list, tuple)) or not seeds
                or not all(isinstance(v, int) and not isinstance(v, bool) for v in seeds)):
            raise ConfigError(f"seeds must be an integer or a non-empty list of integers, got {seeds!r}")
        seeds = list(seeds)
    return rows, seeds


def check_estimator(estimator: str | None) -> str | None:
    """None or the paper's 'one-sided' -> None (each row as registered); otherwise an EP estimator."""
    if estimator in (None, "one-sided"):
        return None
    if estimator not in ESTIMATORS:
        raise ConfigError(f"unknown estimator {estimator!r}; choose one of: {', '.join(ESTIMATORS)}")
    return estimator


def check_dtype(dtype: str | None) -> str | None:
    """None (each row as registered) or a precision in DTYPES."""
    if dtype is not None and dtype not in DTYPES:
        raise ConfigError(f"unknown dtype {dtype!r}; choose one of: {', '.join(DTYPES)}")
    return dtype


def plan(name: str, profile: str, rows: Sequence[str] | None = None, seeds: Sequence[int] | None = None,
         device: str = "auto", data_root: str | None = None, variant: str | None = None,
         estimator: str | None = None, dtype: str | None = None) -> list[PlannedRun]:
    """Every run an experiment needs in a profile, optionally restricted to some rows/seeds.

    `variant` ('code' or 'text') runs that reading of every row that has one; rows without it
    run their default (their text and code agree). `estimator` ('centered', 'random-sign') runs
    the EP rows with that estimator of EP's update (frecore.rules.ep) instead of the paper's
    one-sided one, as the reading '<reading>+<estimator>'; the other rows run as registered.
    `dtype` ('float64') runs every row in that precision, as the reading '<reading>+<dtype>' where
    it differs from the row's (Table 2's plain 10-layer chain trains worse in a CPU's float32 than
    on a GPU, docs/readings.md)."""
    if profile not in PROFILES:
        raise ConfigError(f"unknown profile {profile!r}; choose one of: {', '.join(PROFILES)}")
    rows, seeds = selection(rows, seeds)
    variant = check_variant(variant)
    estimator = check_estimator(estimator)
    dtype = check_dtype(dtype)
    prof = PROFILES[profile]
    all_rows = get_rows(name)
    if rows:
        known = {r.label for r in all_rows}
        unknown = [r for r in rows if r not in known]
        if unknown:
            raise ConfigError(f"unknown row(s) {unknown} in {name}; known: {sorted(known)}")
        all_rows = [r for r in all_rows if r.label in rows]
    planned = []
    for row in all_rows:
        reading, row_cfg = row.reading_config(variant)
        if estimator is not None and row_cfg.rule.name == "ep":
            reading, row_cfg = f"{reading}+{estimator}", override(row_cfg, rule={"estimator": estimator})
        if dtype is not None and row_cfg.net.dtype != dtype:
            reading, row_cfg = f"{reading}+{dtype}", override(row_cfg, net={"dtype": dtype})
        epochs = {"paper": row_cfg.optim.epochs, "quick": row.quick_epochs}.get(profile, prof.epochs)
        optim: dict = {"epochs": epochs}
        row_seeds = prof.seeds
        if profile == "quick":
            optim["epoch_fraction"] = row.quick_fraction
            row_seeds = row.quick_seeds or prof.seeds
        cfg = override(row_cfg, optim=optim,
                       data={"train_subset": prof.train_subset, "test_subset": prof.test_subset,
                             "root": data_root},
                       device=device)
        for seed in (row_seeds if seeds is None else seeds):
            run_cfg = replace(cfg, seed=int(seed))
            if cfg.net.topology == "agt":  # each seed draws its own graph, reproducibly
                run_cfg = replace(run_cfg, net=_redraw_agt(cfg.net, int(seed)))
            planned.append(PlannedRun(row.owner or name, row, profile, seed, run_cfg, reading))
    return planned
