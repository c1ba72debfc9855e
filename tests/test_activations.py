import pytest
import torch

from frecore.model.activations import ACTIVATION_FUNCTIONS, get_activation


def test_fast_tanh_is_tanh_with_tanh_gradient():
    x = torch.linspace(-6, 6, 1001, dtype=torch.float64, requires_grad=True)
    act = get_activation("tanh")
    y = act.fn(x)
    torch.testing.assert_close(y, torch.tanh(x), rtol=0, atol=1e-12)
    (g,) = torch.autograd.grad(y.sum(), x)
    torch.testing.assert_close(g, 1 - torch.tanh(x) ** 2, rtol=0, atol=1e-12)
    h = x.detach().float().clone()
    torch.testing.assert_close(act.inplace(h), torch.tanh(x.detach().float()), rtol=0, atol=2e-7)


def test_paper_definitions():
    x = torch.tensor([-1.0, 0.0, 0.25, 0.5, 1.0, 2.0])
    torch.testing.assert_close(ACTIVATION_FUNCTIONS["sigmoid-s"].fn(x), 1 / (1 + torch.exp(-4 * (x - 0.5))))
    torch.testing.assert_close(ACTIVATION_FUNCTIONS["hard-sigmoid"].fn(x),
                               torch.tensor([0.0, 0.0, 0.25, 0.5, 1.0, 1.0]))


@pytest.mark.parametrize("name", list(ACTIVATION_FUNCTIONS))
def test_inplace_matches_functional_and_zero_flag(name):
    act = ACTIVATION_FUNCTIONS[name]
    x = torch.randn(50, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(act.inplace(x.clone()), act.fn(x), rtol=1e-6, atol=1e-6)
    assert act.zero_at_origin == bool(act.fn(torch.zeros(1)).item() == 0.0)


def test_unknown_activation():
    with pytest.raises(ValueError, match="unknown activation 'relu'"):
        get_activation("relu")


def test_hard_sigmoid_ste_clamps_forward_and_passes_gradients_straight_through():
    """The authors' conv BP (CNN_BP_MNIST) takes the clamp's derivative of the clamped state: 1 everywhere."""
    from frecore.model.activations import get_activation

    act = get_activation("hard-sigmoid-ste")
    x = torch.tensor([-2.0, -0.0, 0.3, 1.0, 3.0], requires_grad=True)
    y = act.fn(x)
    assert torch.equal(y.detach(), x.detach().clamp(0, 1))
    y.sum().backward()
    assert torch.equal(x.grad, torch.ones_like(x))
    exact = torch.tensor([-2.0, 0.3, 3.0], requires_grad=True)
    get_activation("hard-sigmoid").fn(exact).sum().backward()
    assert exact.grad.tolist() == [0.0, 1.0, 0.0]  # the exact derivative saturates
    assert torch.equal(act.inplace(torch.tensor([-1.0, 0.5, 2.0])), torch.tensor([0.0, 0.5, 1.0]))
