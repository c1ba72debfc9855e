"""Property-based tests: whatever values a user types, the CLI and the configs answer with a
result or one clear error, never a traceback (issue 13)."""
from __future__ import annotations

import contextlib
import io
import math
from dataclasses import fields

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from frecore.cli import main
from frecore.config import (ACTIVATIONS, ARCHS, DATASETS, DTYPES, FEEDBACK, INITS, OPTIMIZERS, TOPOLOGIES, ConfigError,
                            DataConfig, NetConfig, NoiseConfig, OptimConfig, RuleConfig, RunConfig)

NUMBERS = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0.0, -1.0, 1e-30, 1e30, 1e308, 3.5e38, 0.5, 1.0]),
    st.integers(min_value=-(2**70), max_value=2**70),
)
INTS = st.one_of(st.integers(min_value=-(2**70), max_value=2**70), st.sampled_from([0, 1, 2, 3, 64, 10**9]))
WORDS = st.one_of(st.text(min_size=0, max_size=8), st.sampled_from(["nan", "inf", "-1", "1e999", "0x10", ""]))

CHOICE_FLAGS = {"--activation": ACTIVATIONS, "--feedback": FEEDBACK, "--dtype": DTYPES, "--arch": ARCHS,
                "--topology": TOPOLOGIES, "--optimizer": OPTIMIZERS, "--dataset": DATASETS, "--init": INITS,
                "--rule": ("ep", "bp", "fa", "pep", "lra"), "--device": ("cpu",)}
FLOAT_FLAGS = ("--beta-f", "--agt-p", "--epoch-fraction", "--weight-noise", "--state-noise")
LIST_FLOAT_FLAGS = ("--alpha", "--beta", "--lr", "--weight-decay")
INT_FLAGS = ("-T", "-K", "--batch-size", "--epochs", "--seed", "--kernel", "--padding", "--skip-every",
             "--topology-seed", "--train-last", "--train-subset", "--readout-lag")


def _value(draw, flag: str) -> list[str]:
    if flag in CHOICE_FLAGS:
        return [draw(st.one_of(st.sampled_from(CHOICE_FLAGS[flag]), WORDS))]
    if flag in FLOAT_FLAGS:
        return [draw(st.one_of(NUMBERS.map(repr), WORDS))]
    if flag in LIST_FLOAT_FLAGS:
        return draw(st.lists(st.one_of(NUMBERS.map(repr), WORDS), min_size=1, max_size=4))
    if flag in INT_FLAGS:
        return [draw(st.one_of(INTS.map(str), WORDS))]
    if flag in ("--hidden", "--channels"):
        return draw(st.lists(st.one_of(INTS.map(str), WORDS), min_size=1, max_size=5))
    return draw(st.lists(st.sampled_from(["0:2", "1:3", "0:0", "5:1", "a:b", "3"]), min_size=1, max_size=3))  # --skips


@st.composite
def train_argv(draw) -> list[str]:
    flags = draw(st.lists(st.sampled_from([*CHOICE_FLAGS, *FLOAT_FLAGS, *LIST_FLOAT_FLAGS, *INT_FLAGS,
                                           "--hidden", "--channels", "--skips"]), max_size=6, unique=True))
    argv = ["train", "--dry-run", "--device", "cpu"]
    for flag in flags:
        argv += [flag, *_value(draw, flag)]
    return argv


def run_cli(argv: list[str]) -> tuple[int, str]:
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        try:
            code = main(argv)
        except SystemExit as exc:  # argparse's usage errors
            code = exc.code
    return code, err.getvalue()


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(train_argv())
def test_every_train_flag_value_gives_a_config_or_one_error_line(argv):
    code, err = run_cli(argv)
    assert code in (0, 2), (argv, code, err)
    if code == 2:
        lines = [line for line in err.splitlines() if line.strip()]
        assert len(lines) == 1 and "error: " in lines[0], (argv, err)
    assert "Traceback" not in err


ANY = st.one_of(st.none(), st.booleans(), NUMBERS, WORDS, st.lists(st.one_of(INTS, NUMBERS), max_size=4),
                st.tuples(st.integers(-3, 3), st.integers(-3, 3)))


@pytest.mark.parametrize("cls", [NetConfig, RuleConfig, OptimConfig, DataConfig, NoiseConfig])
def test_every_config_field_value_builds_or_raises_config_error(cls):
    names = [f.name for f in fields(cls)]

    @settings(max_examples=150, deadline=None)
    @given(st.sampled_from(names), ANY)
    def check(name, value):
        section = cls.__name__.removesuffix("Config").lower()
        try:
            RunConfig(**{section: cls(**{name: value})})
        except ConfigError as exc:
            assert str(exc)

    check()


@settings(max_examples=100, deadline=None)
@given(st.one_of(INTS, NUMBERS, WORDS, st.none()))
def test_seeds_build_or_raise_config_error(seed):
    try:
        RunConfig(seed=seed)
    except ConfigError:
        return
    assert isinstance(seed, int) and 0 <= seed < 2**63 and not math.isnan(float(seed))
