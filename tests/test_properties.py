"""Property-based tests: whatever values a user types, the CLI and the configs answer with a
result or one clear error, never a traceback (issue 13)."""
from __future__ import annotations

import contextlib
import functools
import io
import math
import re
from dataclasses import fields

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from frecore.cli import main
from frecore.config import (ACTIVATIONS, ARCHS, DATASETS, DTYPES, FEEDBACK, INITS, OPTIMIZERS, TOPOLOGIES,
                            ConfigError, DataConfig, NetConfig, NoiseConfig, OptimConfig, RuleConfig,
                            RunConfig)

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
    # --skips
    return draw(st.lists(st.sampled_from(["0:2", "1:3", "0:0", "5:1", "a:b", "3"]), min_size=1, max_size=3))


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


# -- the results store's rows (issue 25) -----------------------------------------------------------

JSON_CELLS = ("config", "history", "probe_before")
CHECKED_CELLS = ("run_id", "seed", "epochs", "epochs_run", "best_test_acc", "final_test_acc",
                 "best_train_acc", "final_train_acc", "wall_s", "epoch_s", "status", *JSON_CELLS)
DAMAGED_CELL = st.one_of(
    st.sampled_from(["", "[]", "[1, 2]", "{}", "7", "-1", "1.5", "null", "true", '"text"', "{not json",
                     "[{}]", "nan", "inf", "-inf", "NaN", "Infinity", "1e999", "101", str(2**63),
                     "x" * 100_000, '[{"epoch": 1}]']),
    NUMBERS.map(repr), st.text(max_size=30),
    st.lists(st.one_of(INTS, NUMBERS), max_size=3).map(lambda v: __import__("json").dumps(v)),
)


@functools.lru_cache(maxsize=1)
def _store_bytes() -> bytes:
    import tempfile
    from pathlib import Path

    from tests.test_faults import _good_runs

    with tempfile.TemporaryDirectory() as folder:
        return _good_runs(Path(folder)).read_bytes()


def _store_csv(folder):
    """Two finished runs as the store writes them (written once; hypothesis draws many per test)."""
    path = folder / "table1.csv"
    path.write_bytes(_store_bytes())
    return path


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(CHECKED_CELLS), DAMAGED_CELL, st.sampled_from([1, 2]))
def test_a_damaged_cell_is_read_as_written_or_one_error_never_a_lost_or_padded_row(column, value, record):
    """Any value in any checked cell: the row reads back exactly (the value is one the writer
    could write) or the read stops with one message naming file, line and column; never another
    exception, never a row silently left out, and the file's bytes never change."""
    import tempfile
    from pathlib import Path

    from frecore.reporting.store import ResultsFileError, read_runs
    from tests.test_faults import _damage

    assume("\r" not in value)  # a bare CR tears the line in two: set aside (test_faults), not a cell
    with tempfile.TemporaryDirectory() as folder:
        path = _store_csv(Path(folder))
        k = _damage(path, column, value, record)
        before = path.read_bytes()
        try:
            runs, bad = read_runs(path)
        except ResultsFileError as exc:
            msg = str(exc)
            assert "\n" not in msg and str(path) in msg and f"line {record + 1}" in msg, msg
            if "field larger than field limit" not in msg:  # else csv gives up before it sees the columns
                named = re.search(r"column (\d+) \((\w+)", msg)
                header = path.read_text().splitlines()[0].split(",")
                assert named and header[int(named[1]) - 1] == named[2], msg  # the number and name agree
                # the damaged cell, or named beside the other
                assert f"column {k}" in msg or column in msg, msg
        else:
            assert len(runs) == 2 and not bad  # read whole: nothing left out, nothing set aside
        assert path.read_bytes() == before


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from([0, 1]), min_size=1, max_size=5))
def test_each_run_counts_once_or_the_read_names_the_repeat(order):
    """Rows of two runs in any order and number: read whole when each appears once, else one error
    naming the repeated line and the first (no run is ever counted twice)."""
    import tempfile
    from pathlib import Path

    from frecore.reporting.store import ResultsFileError, read_runs

    with tempfile.TemporaryDirectory() as folder:
        path = _store_csv(Path(folder))
        header, *rows = path.read_text().splitlines()
        path.write_text("\n".join([header, *(rows[i] for i in order)]) + "\n")
        try:
            runs, _ = read_runs(path)
        except ResultsFileError as exc:
            first = next(i for i, r in enumerate(order) if order.index(r) != i)
            assert f"line {first + 2}" in str(exc) and f"line {order.index(order[first]) + 2}" in str(exc)
        else:
            assert len(set(order)) == len(order) and sorted(runs["seed"]) == sorted(order)


LIST_FLAGS = {"--lr": "1e-3", "--weight-decay": "0"}


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.integers(1, 64), min_size=1, max_size=4), st.sampled_from(sorted(LIST_FLAGS)),
       st.integers(1, 7), st.one_of(st.none(), st.integers(1, 8)))
def test_per_layer_lists_and_train_last_are_checked_by_the_dry_run(hidden, flag, n_values, train_last):
    """A layered chain of L hidden layers has L + 1 weight matrices: --dry-run accepts one value or
    exactly L + 1, and --train-last up to L + 1; anything else is one error line."""
    argv = ["train", "--dry-run", "--device", "cpu", "--hidden", *map(str, hidden), flag,
            *[LIST_FLAGS[flag]] * n_values]
    if train_last is not None:
        argv += ["--train-last", str(train_last)]
    code, err = run_cli(argv)
    n_weights = len(hidden) + 1
    ok = n_values in (1, n_weights) and (train_last is None or train_last <= n_weights)
    assert code == (0 if ok else 2), (argv, err)
    if not ok:
        lines = [line for line in err.splitlines() if line.strip()]
        assert len(lines) == 1 and "error: " in lines[0] and "weight matrices" in lines[0], err
