import math

import torch

from frecore.config import DataConfig, NetConfig, OptimConfig, RuleConfig, RunConfig
from frecore.training.data import load_dataset
from frecore.analysis.probes import PROBES, dynamics_probe
from frecore.training.train import fit


def test_dynamics_probe_is_measured_before_training_and_after_each_epoch(mnist_root):
    data = load_dataset(DataConfig(root=mnist_root, download=False, train_subset=300, test_subset=150))
    cfg = RunConfig(net=NetConfig(hidden=(16, 16), beta=0.1), rule=RuleConfig(free_steps=8, nudge_steps=4),
                    optim=OptimConfig(epochs=2, batch_size=100), device="cpu")
    calls = []

    def counting(net, d, c):
        calls.append(1)
        return dynamics_probe(net, d, c)

    r = fit(cfg, data, progress=False, probe=counting)
    assert len(calls) == 3
    assert set(r.probe_before) == {"spectral_radius", "ftmle", "convergence_time"}
    assert all(set(h.probe) == set(r.probe_before) for h in r.history)
    assert r.probe_before["spectral_radius"] != r.history[-1].probe["spectral_radius"]  # training moved W
    assert all(math.isfinite(v) for v in r.probe_before.values())
    assert "dynamics" in PROBES


def test_unsettled_dynamics_report_nan_convergence_time(mnist_root):
    data = load_dataset(DataConfig(root=mnist_root, download=False, train_subset=10, test_subset=20))
    cfg = RunConfig(net=NetConfig(hidden=(32, 32, 32), beta=4.0, feedback="random"), device="cpu")
    from frecore.model.build import build_fre_net
    net = build_fre_net(cfg.net, 784, 10, torch.Generator().manual_seed(0))
    with torch.no_grad():
        for w in net.weights():
            w.mul_(6.0)  # strong, asymmetric recurrence: oscillates instead of settling
    values = dynamics_probe(net, data, cfg)
    assert math.isnan(values["convergence_time"]) and values["ftmle"] > -1
