"""Results unchanged by refactors: a smoke run of every experiment (rows covering every net and
rule, tests/record_smoke_golden.py) gives the numbers recorded in tests/data/smoke_golden.json.

On the machine that recorded them the numbers agree exactly; elsewhere (another CPU's kernels, or
another thread count) float sums may round differently, so accuracies may differ by one smoke test
image (0.2 points) and losses by a relative 1e-3 -- a change of the arithmetic moves far more."""
from __future__ import annotations

import json
import math

import pytest

from tests.record_smoke_golden import PATH, smoke_numbers

ACC_TOL = 0.25  # points: one of the smoke profile's 500 test images is 0.2
LOSS_RTOL = 1e-3


@pytest.fixture(scope="module")
def numbers(tmp_path_factory, mnist_root):
    return smoke_numbers(str(tmp_path_factory.mktemp("golden")), mnist_root)


def _close(a, b, tol: float, rel: bool) -> bool:
    if a is None or b is None:
        return a is b
    return math.isclose(a, b, rel_tol=tol) if rel else abs(a - b) <= tol


@pytest.mark.parametrize("experiment", sorted(json.loads(PATH.read_text())))
def test_smoke_numbers_are_unchanged(numbers, experiment):
    golden = json.loads(PATH.read_text())[experiment]
    got = numbers[experiment]
    assert sorted(got) == sorted(golden)
    for row, want in golden.items():
        have = got[row]
        assert (have["run_id"], have["status"]) == (want["run_id"], want["status"]), row
        for key, tol, rel in (("train_acc", ACC_TOL, False), ("test_acc", ACC_TOL, False),
                              ("train_loss", LOSS_RTOL, True), ("test_loss", LOSS_RTOL, True)):
            assert len(have[key]) == len(want[key]) and all(
                _close(a, b, tol, rel)
                for a, b in zip(have[key], want[key])), (row, key, have[key], want[key])
