"""What every config section is built from: the allowed values, `setting` (a field declared once with
its help and flag), ConfigError, and the checks the sections' __post_init__ share."""
from __future__ import annotations

import math
from dataclasses import field, fields
from typing import Any, Sequence

ACTIVATIONS = ("tanh", "sigmoid-s", "hard-sigmoid", "hard-sigmoid-ste")  # -ste: straight-through derivative
ARCHS = ("layered", "conv")
TOPOLOGIES = ("chain", "residual", "agt", "custom")  # hidden-layer graphs; the arch "layered" is the family
FEEDBACK = ("symmetric", "random")
DATASETS = ("mnist", "cifar10")
OPTIMIZERS = ("adam", "adamw", "sgd")
INITS = ("glorot", "torch")  # Glorot uniform (the paper's text) or torch's default U(+-1/sqrt(fan_in))
# conv unpooling: this step's, the step before's, the free phase's
POOL_INDICES = ("current", "previous", "free")
AGT_DRAWS = ("unordered", "ordered")  # agt: one draw per pair, both directions; or one per direction
NUDGES = ("constant", "accumulating")  # beta_f B_f e each nudged step; or k beta_f B_f e_p^0 after k steps
# ep: s^beta - s^0; (s^+beta - s^-beta) / 2; sign-drawn nudge
ESTIMATORS = ("one-sided", "centered", "random-sign")
READOUT_ERRORS = ("free", "nudged")  # which e_p W_f's update uses: the free phase's or the nudged phase's end
# a new draw at every step; or one draw per batch, kept through both phases
STATE_NOISE_MODELS = ("fresh", "batch")
DTYPES = ("float32", "float64")
SCHEDULERS = ("none", "cosine")  # cosine: annealing over the epochs to 1e-6 (the CIFAR-10 conv nets)
DEVICES = ("auto", "cpu", "cuda")


def setting(default: Any, help: str, **flag: Any) -> Any:
    """A config field declared once: its default, and the help its command-line flag shows
    (frecore.config.flags generates `train`'s flags from these). `flag` may set the flag's name
    (`name="--rule"`), a short form (`short="-T"`), the allowed values (`choices=ACTIVATIONS`), a
    negating flag for a boolean that defaults to True (`negate="--no-download"`), or a metavar."""
    return field(default=default, metadata={"help": help, **flag})


class ConfigError(ValueError):
    """A setting is out of range or unknown; the message says which and what is allowed."""


FLOAT_MAX = {"float32": 3.4028234663852886e38, "float64": 1.7976931348623157e308}  # torch.finfo(dtype).max
SEED_MAX = 2**63 - 1 - 10**6  # torch seeds are 64-bit; fit derives streams as seed + a few primes below 10^6


def _check_choice(name: str, value: str, allowed: Sequence[str]) -> None:
    if value not in allowed:
        raise ConfigError(f"unknown {name} {value!r}; choose one of: {', '.join(allowed)}")


def _check_scale(name: str, value: float, *, positive: bool = False) -> None:
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        raise ConfigError(f"{name} must be a number, got {value!r}")
    if not math.isfinite(value):
        raise ConfigError(f"{name} must be finite, got {value!r}")
    if value < 0 or (positive and value == 0):
        kind = "> 0" if positive else ">= 0"
        raise ConfigError(f"{name} must be {kind}, got {value!r}")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_bool(name: str, value: Any) -> None:
    if not isinstance(value, bool):
        raise ConfigError(f"{name} must be true or false, got {value!r}")


def _sequence(name: str, value: Any) -> tuple:
    """A list or tuple as a tuple; anything else (None, a string, a number) is refused."""
    if not isinstance(value, (list, tuple)):
        raise ConfigError(f"{name} must be a list, got {value!r}")
    return tuple(value)


def _check_seed(name: str, value: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= SEED_MAX:
        raise ConfigError(f"{name} must be an integer in [0, {SEED_MAX}] (64-bit generators), got {value!r}")


def _check_in_dtype(name: str, value: Any, dtype: str) -> None:
    """The numbers in `value` (one, or a list) must fit in `dtype` (1e39 is not a float32)."""
    for v in (value if isinstance(value, (list, tuple)) else (value,)):
        number = isinstance(v, (int, float)) and not isinstance(v, bool)
        if number and math.isfinite(v) and abs(v) > FLOAT_MAX[dtype]:
            raise ConfigError(f"{name} = {v!r} is not representable in {dtype} (largest "
                              f"{FLOAT_MAX[dtype]:.3g}); use a smaller value or dtype float64")


def _per_block(name: str, value: float | Sequence[float], n: int, *, positive: bool = False
               ) -> tuple[float, ...]:
    """Broadcast a scalar to one value per block, or check a list has one per block."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        _check_scale(name, value, positive=positive)  # checked even where the net has no block to scale
        values = (value,) * n
    else:
        values = _sequence(name, value)
    if len(values) != n:
        raise ConfigError(f"{name} needs one value, or one per hidden->hidden block ({n}, chain first, "
                          f"then skips), got {len(values)}")
    for i, v in enumerate(values):
        _check_scale(f"{name}[{i}]", v, positive=positive)
    return tuple(float(v) for v in values)


def _check_choices(section: Any) -> None:
    """Every field declared with `choices` holds one of them: the values the flag offers are the ones
    the config accepts (named as the flag names them: OptimConfig.name is the optimizer)."""
    for f in fields(section):
        if "choices" in f.metadata:
            what = f.metadata.get("name", f.name).lstrip("-").replace("-", "_")
            _check_choice(what, getattr(section, f.name), f.metadata["choices"])
