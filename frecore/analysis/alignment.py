"""How closely EP's quantities follow BP's on the same net (Appendix C.4, Figure S10).

Per hidden layer: the free-phase state s_j^0 vs the feedforward state; EP's "bias gradient"
ds_j = s_j^beta - s_j^0 (or the rule's estimator of it, RuleConfig.estimator) vs BP's -dL/dh_j;
EP's weight update vs BP's -dL/dW. Weak feedback should make all three similar (cosine near 1),
strong feedback should not.
"""
from __future__ import annotations

import pandas as pd
import torch
import torch.nn.functional as F

from frecore.config import RuleConfig
from frecore.model.layered import LayeredFRENet
from frecore.rules.ep import EquilibriumPropagation, set_ep_gradients


def cosine(a: torch.Tensor, b: torch.Tensor) -> float:
    """Cosine similarity of two tensors as flat vectors, in float64, with no norm clamping
    (torch's F.cosine_similarity clamps norms below 1e-8, and EP's raw updates can be smaller)."""
    a, b = a.detach().flatten().double(), b.detach().flatten().double()
    return float(a @ b / (a.norm() * b.norm()))


def ep_bp_alignment(net: LayeredFRENet, x: torch.Tensor, y: torch.Tensor, rule: RuleConfig) -> list[dict]:
    """Rows (quantity, layer, cosine) for one batch; layer 1..L hidden, 'out' for W_f."""
    ep = EquilibriumPropagation(rule)
    phases = ep.phases(net, x, y)
    # the same two phases, not a second relaxation
    set_ep_gradients(net, x, phases.free, phases.ds, phases.e_readout)
    s0, ds = phases.free.state, phases.ds
    ep_grads = [w.grad.clone() for w in net.weights()]

    offsets = [torch.zeros_like(s, requires_grad=True) for s in s0]
    with torch.enable_grad():
        states, logits = net.feedforward(x, offsets=offsets)
        loss = F.cross_entropy(logits, y)
        *bias_grads, = torch.autograd.grad(loss, offsets, retain_graph=True)
        weight_grads = torch.autograd.grad(loss, net.weights())

    rows = []
    names = [str(j + 1) for j in range(len(s0))]
    for j, name in enumerate(names):
        rows.append({"quantity": "state", "layer": name, "cosine": cosine(s0[j], states[j])})
        rows.append({"quantity": "ds (bias gradient)", "layer": name,
                     "cosine": cosine(ds[j], -bias_grads[j])})
    for name, g_ep, g_bp in zip(names + ["out"], ep_grads, weight_grads):
        rows.append({"quantity": "weight update", "layer": name, "cosine": cosine(-g_ep, -g_bp)})
    for w in net.weights():
        w.grad = None
    return rows


FIGS10_LAYERS = 8  # hidden layers of 64 units (Figure S10)


def figS10_table(profile: str = "smoke", data_root: str | None = None, device: str = "auto",
                 seed: int = 0) -> pd.DataFrame:
    """Figure S10 on the first training batch of MNIST (200 images; 50 in smoke): one row per
    (setting, quantity, layer)."""
    from frecore.config import DataConfig, NetConfig
    from frecore.training.data import load_dataset
    from frecore.experiments import figS10_settings
    from frecore.model.build import build_fre_net
    from frecore.model.init import TORCH_DTYPES
    from frecore.training.train import resolve_device

    dev = resolve_device(device)
    batch = 50 if profile == "smoke" else 200
    data = load_dataset(DataConfig(root=data_root, train_subset=batch, test_subset=1), device=dev,
                        dtype=torch.float64)
    rows = []
    for st in figS10_settings(profile):
        net_cfg = NetConfig(hidden=(64,) * FIGS10_LAYERS, beta=st.beta, dtype=st.dtype)
        net = build_fre_net(net_cfg, data.n_in, 10, torch.Generator().manual_seed(seed), dev)
        x = data.train.x.to(TORCH_DTYPES[st.dtype])
        rule = RuleConfig(free_steps=st.free_steps, nudge_steps=st.nudge_steps, beta_f=0.1)
        for r in ep_bp_alignment(net, x, data.train.y, rule):
            rows.append({"profile": profile, "panel": st.panel, "setting": st.label, "beta": st.beta,
                         "T": st.free_steps, "K": st.nudge_steps, "dtype": st.dtype, **r})
    return pd.DataFrame(rows)
