"""Dynamics diagnostics: spectral radius, Lyapunov exponents, convergence time (Appendix A)."""
import math

import pytest
import torch

from frecore.config import NetConfig
from frecore.model.dynamics import convergence_time, lyapunov_growth, spectral_radius, step_changes
from frecore.model.build import build_fre_net
from tests.conftest import make_batch, make_net


def _two_unit_net(w: float, alpha: float, beta: float, activation="hard-sigmoid"):
    net = build_fre_net(NetConfig(hidden=(1, 1), alpha=alpha, beta=beta, activation=activation,
                                  dtype="float64"),
                    1, 2, torch.Generator().manual_seed(0))
    with torch.no_grad():
        net.w_blocks[0].fill_(w)
        net.w_in.fill_(0.5)
    return net


def test_spectral_radius_of_a_known_matrix():
    # W = [[0, beta w], [alpha w, 0]]: eigenvalues +-sqrt(alpha beta) |w|
    net = _two_unit_net(w=-0.8, alpha=2.0, beta=0.125)
    assert spectral_radius(net) == pytest.approx(math.sqrt(2.0 * 0.125) * 0.8)
    big = make_net(hidden=(20, 20, 20), beta=1.0, dtype="float64")
    small = make_net(hidden=(20, 20, 20), beta=0.01, dtype="float64")
    assert spectral_radius(small) < spectral_radius(big)


def test_ftmle_of_a_linear_contraction_is_the_log_of_its_factor():
    # alpha = beta: W = 0.3 w [[0,1],[1,0]] scales every vector by 0.3|w|; hard-sigmoid is the
    # identity while the states stay inside (0, 1), so J = W along the whole trajectory.
    net = _two_unit_net(w=0.5, alpha=0.3, beta=0.3)
    drive = torch.full((3, 1), 0.5, dtype=torch.float64)
    r = lyapunov_growth(net, drive, 20, torch.Generator().manual_seed(0))
    assert r.shape == (20, 3)
    torch.testing.assert_close(r.mean(0), torch.full((3,), math.log(0.15), dtype=torch.float64))


def test_lyapunov_exponent_grows_with_feedback():
    x, _ = make_batch(n=4, dtype=torch.float64)
    mle = {}
    for beta in (0.01, 2.0):
        net = make_net(hidden=(20, 20, 20), beta=beta, dtype="float64", seed=2)
        mle[beta] = float(lyapunov_growth(net, net.input_drive(x), 60,
                                          torch.Generator().manual_seed(0)).mean())
    assert mle[0.01] < mle[2.0]


def test_convergence_time_of_a_feedforward_net_is_its_depth():
    for depth in (1, 2, 4):
        net = make_net(hidden=(12,) * depth, beta=0.0, dtype="float64")
        x, _ = make_batch(dtype=torch.float64)
        with torch.no_grad():
            trace = net.relax(net.input_drive(x), 12, record=True).trace
        assert convergence_time(trace) == depth


def test_convergence_time_none_when_it_never_settles():
    a, b = [torch.zeros(1, 2)], [torch.ones(1, 2)]
    assert convergence_time([a, b] * 5) is None
    assert step_changes([a, b]) == [0.0, 1.0]
