import pytest
import torch

from frecore.model.protocol import Nudge
from frecore.model.relaxation import Relaxation
from tests.conftest import make_batch, make_net


@pytest.fixture(autouse=True)
def _no_grad():
    with torch.no_grad():
        yield


def _dense_relax(net, drive, steps):
    """Reference: every term every step, from s = 0, no skipping."""
    terms = net.coupling_terms()
    s = [drive.new_zeros(drive.shape[0], n) for n in net.sizes]
    for _ in range(steps):
        new = []
        for j in range(len(net.sizes)):
            h = (drive.clone() if j == 0 else drive.new_zeros(drive.shape[0], net.sizes[j]))
            for scale, src, mat in terms[j]:
                h = h + scale * s[src] @ mat
            new.append(net.rho.fn(h))
        s = new
    return s


def test_relax_matches_the_plain_synchronous_update():
    for activation in ("tanh", "sigmoid-s", "hard-sigmoid"):
        net = make_net(hidden=(12, 10, 9, 8), beta=0.3, activation=activation, dtype="float64")
        x, _ = make_batch(dtype=torch.float64)
        drive = net.input_drive(x)
        for steps in (1, 2, 3, 7):
            got = net.relax(drive, steps).state
            for a, b in zip(got, _dense_relax(net, drive, steps)):
                torch.testing.assert_close(a, b, rtol=0, atol=1e-13)


def test_free_phase_settles_for_small_beta():
    net = make_net(hidden=(20, 20, 20), beta=0.05, dtype="float64")
    x, _ = make_batch(dtype=torch.float64)
    trace = net.relax(net.input_drive(x), 40, record=True).trace
    change = [max(float((a - b).abs().max()) for a, b in zip(s1, s0)) for s0, s1 in zip(trace, trace[1:])]
    # A layered chain updated synchronously is two interleaved chains: compare every other step.
    tail = change[3:]
    assert all(b < a for a, b in zip(tail, tail[2:])), change
    assert change[-1] < 1e-12  # float64: settled to round-off


def test_tol_stops_early_and_returns_the_state_reached():
    net = make_net(hidden=(20, 20), beta=0.01, dtype="float64")
    x, _ = make_batch(dtype=torch.float64)
    drive = net.input_drive(x)
    r = net.relax(drive, 100, tol=1e-8)
    assert r.steps < 100
    full = net.relax(drive, 100).state
    for a, b in zip(r.state, full):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-7)


def test_nudge_enters_the_last_layer_only():
    net = make_net(hidden=(12, 10, 9), beta=0.0, dtype="float64")
    x, _ = make_batch(dtype=torch.float64)
    drive = net.input_drive(x)
    s0 = net.relax(drive, 5).state
    nudge = Nudge(0.1, torch.ones(x.shape[0], net.w_out.shape[0], dtype=torch.float64))  # a fixed error
    s1 = net.relax(drive, 1, start=Relaxation(s0), nudge=nudge).state
    torch.testing.assert_close(s1[0], s0[0], rtol=0, atol=0)  # no feedback: lower layers unchanged
    torch.testing.assert_close(s1[1], s0[1], rtol=0, atol=0)
    assert (s1[2] - s0[2]).abs().min() > 0


def test_relative_tol_scales_with_the_distance_from_the_reference():
    """A nudge 100x weaker makes ds and its step changes 100x smaller: an absolute tolerance then
    stops relatively sooner (ds 80x less accurate), a relative one stops alike at either size."""
    net = make_net(hidden=(20, 20), beta=0.3, dtype="float64")
    x, _ = make_batch(dtype=torch.float64)
    drive = net.input_drive(x)
    s0 = net.relax(drive, 200).state
    steps, rel_err, abs_err = [], [], []
    for size in (1e-1, 1e-3):
        nudge = Nudge(size, torch.ones(x.shape[0], net.w_out.shape[0], dtype=torch.float64))
        full = net.relax(drive, 200, start=Relaxation(s0), nudge=nudge).state
        ds = max(float((a - b).abs().max()) for a, b in zip(full, s0))

        def err(r):
            return max(float((a - b).abs().max()) for a, b in zip(r.state, full)) / ds
        relative = net.relax(drive, 200, start=Relaxation(s0), nudge=nudge, tol=1e-3, relative_to=s0)
        steps.append(relative.steps)
        rel_err.append(err(relative))
        abs_err.append(err(net.relax(drive, 200, start=Relaxation(s0), nudge=nudge, tol=1e-6)))
    assert max(steps) < 200 and abs(steps[0] - steps[1]) <= 2
    assert max(rel_err) < 1e-2 and rel_err[1] < 2 * rel_err[0]
    assert abs_err[1] > 10 * abs_err[0]
    assert net.relax(drive, 7, start=Relaxation(s0), nudge=nudge).steps == 7  # no tol: fixed steps
