import math
from dataclasses import replace

import pytest
import torch

from frecore.config import ConfigError, DataConfig, NetConfig, NoiseConfig, OptimConfig, RuleConfig, RunConfig
from frecore.training.data import load_dataset
from frecore.model.build import build_fre_net
from frecore.training.train import build_optimizer
from frecore.training.loop import fit


def _cfg(root, **optim) -> RunConfig:
    return RunConfig(net=NetConfig(hidden=(32, 24)), rule=RuleConfig(name="ep", free_steps=6, nudge_steps=4),
                     optim=OptimConfig(**{"epochs": 2, "batch_size": 50, **optim}),
                     data=DataConfig(root=root, download=False, train_subset=400, test_subset=200),
                     device="cpu")


@pytest.fixture(scope="module")
def small_mnist(mnist_root):
    return load_dataset(DataConfig(root=mnist_root, download=False, train_subset=400, test_subset=200))


def test_same_seed_same_numbers_on_cpu(mnist_root, small_mnist):
    a = fit(_cfg(mnist_root), small_mnist, progress=False)
    b = fit(_cfg(mnist_root), small_mnist, progress=False)
    assert a.status == b.status == "ok"
    assert [(h.train_loss, h.train_acc, h.test_loss, h.test_acc) for h in a.history] == \
           [(h.train_loss, h.train_acc, h.test_loss, h.test_acc) for h in b.history]
    c = fit(replace(_cfg(mnist_root), seed=1), small_mnist, progress=False)
    assert [h.train_loss for h in c.history] != [h.train_loss for h in a.history]


def test_learns_on_a_subset(mnist_root, small_mnist):
    r = fit(_cfg(mnist_root, epochs=3), small_mnist, progress=False)
    assert r.status == "ok" and len(r.history) == 3
    assert r.best_test_acc > 50 and r.best_test_acc >= r.final_test_acc
    assert r.history[-1].train_loss < r.history[0].train_loss
    assert r.wall_s > 0 and r.device == "cpu"


def test_a_run_forced_to_diverge_is_recorded_not_raised(mnist_root, small_mnist):
    r = fit(_cfg(mnist_root, name="sgd", lr=1e38, epochs=3), small_mnist, progress=False)
    assert r.status == "diverged"
    assert "non-finite" in r.message
    assert len(r.history) < 3
    assert math.isnan(r.best_test_acc) or r.best_test_acc <= 100


def test_per_layer_learning_rates_reach_the_optimizer():
    cfg = RunConfig(net=NetConfig(hidden=(8, 8)),
                    optim=OptimConfig(name="sgd", lr=(0.3, 0.2, 0.1), weight_decay=(0.0, 1e-5, 1e-4)))
    net = build_fre_net(cfg.net, 5, 3, torch.Generator().manual_seed(0))
    opt = build_optimizer(cfg, net)
    assert [g["lr"] for g in opt.param_groups] == [0.3, 0.2, 0.1]
    assert [g["params"][0] is w for g, w in zip(opt.param_groups, net.weights())] == [True] * 3
    assert [g["weight_decay"] for g in opt.param_groups] == [0.0, 1e-5, 1e-4]
    with pytest.raises(ConfigError, match="lr lists 2 values but the net has 3"):
        build_optimizer(RunConfig(net=NetConfig(hidden=(8, 8)), optim=OptimConfig(lr=(0.1, 0.2))), net)


def test_rule_net_mismatch_is_a_config_error(mnist_root, small_mnist):
    cfg = RunConfig(rule=RuleConfig(name="fa"), net=NetConfig(hidden=(8,), feedback="symmetric"))
    with pytest.raises(ConfigError, match="needs fixed random feedback"):
        fit(cfg, small_mnist, progress=False)


def test_data_is_cast_to_the_nets_dtype(mnist_root, small_mnist):
    cfg = replace(_cfg(mnist_root, epochs=1), net=NetConfig(hidden=(16,), dtype="float64"))
    r = fit(cfg, small_mnist, progress=False)
    assert r.status == "ok" and small_mnist.train.x.dtype == torch.float32


def test_train_last_freezes_the_lower_weights(mnist_root, small_mnist):
    cfg = replace(_cfg(mnist_root, epochs=1, train_last=2), net=NetConfig(hidden=(16, 16, 16)))
    net = build_fre_net(cfg.net, 784, 10, torch.Generator().manual_seed(cfg.seed))
    opt = build_optimizer(cfg, net)
    trained = [g["params"][0] for g in opt.param_groups]
    assert len(trained) == 2 and trained[0] is net.w_blocks[-1] and trained[1] is net.w_out
    with pytest.raises(ConfigError, match="train_last=9 but the net has only 4"):
        build_optimizer(replace(cfg, optim=replace(cfg.optim, train_last=9)), net)


def test_noise_changes_results_only_where_asked_and_is_seeded(mnist_root, small_mnist):
    base = _cfg(mnist_root, epochs=1)
    quiet = fit(base, small_mnist, progress=False)
    zero = fit(replace(base, noise=NoiseConfig(weight_std=0.0, state_std=0.0)), small_mnist, progress=False)
    assert [h.test_loss for h in quiet.history] == [h.test_loss for h in zero.history]
    noisy_cfg = replace(base, noise=NoiseConfig(weight_std=0.01, state_std=0.1))
    a, b = fit(noisy_cfg, small_mnist, progress=False), fit(noisy_cfg, small_mnist, progress=False)
    assert [h.test_loss for h in a.history] == [h.test_loss for h in b.history]  # seeded
    assert a.history[0].test_loss != quiet.history[0].test_loss
    test_only = fit(replace(base, noise=NoiseConfig(state_std=0.1, state_noise_in_training=False)),
                    small_mnist, progress=False)
    assert test_only.history[0].train_loss == quiet.history[0].train_loss  # training untouched
    assert test_only.history[0].test_loss != quiet.history[0].test_loss


def test_batch_state_noise_is_one_draw_per_batch_through_both_phases():
    from frecore.model.noise import BatchNoise, GaussianNoise, state_noise

    g = torch.Generator().manual_seed(0)
    noise = state_noise(0.1, g, "batch")
    assert isinstance(noise, BatchNoise) and state_noise(0.0, g, "batch") is None
    h = torch.zeros(4, 3)
    first = noise.for_layer(0, h)
    assert torch.equal(noise.for_layer(0, h), first) and not torch.equal(noise.for_layer(1, h), first)
    noise.new_batch()
    assert not torch.equal(noise.for_layer(0, h), first)
    fresh = state_noise(0.1, g, "fresh")
    assert type(fresh) is GaussianNoise and not torch.equal(fresh.for_layer(0, h), fresh.for_layer(0, h))


def test_adamw_is_decoupled_weight_decay():
    cfg = RunConfig(net=NetConfig(hidden=(5,)), optim=OptimConfig(name="adamw", lr=1e-3, weight_decay=1e-2))
    net = build_fre_net(cfg.net, 4, 3, torch.Generator().manual_seed(0))
    opt = build_optimizer(cfg, net)
    assert isinstance(opt, torch.optim.AdamW) and opt.param_groups[0]["weight_decay"] == 1e-2


# -- runs that survive a cut ------------------------------------------------------------------------

def _resume_cfg(root, rule: str, optim: dict | None = None, **noise) -> RunConfig:
    return RunConfig(net=NetConfig(hidden=(32,), dtype="float64"),
                     rule=RuleConfig(name=rule, free_steps=5, nudge_steps=3),
                     optim=OptimConfig(**{"epochs": 3, "batch_size": 100, **(optim or {})}),
                     data=DataConfig(root=root, download=False, train_subset=500, test_subset=200),
                     noise=NoiseConfig(**noise), device="cpu")


def _numbers(r) -> list[tuple]:
    return [(h.epoch, h.train_loss, h.train_acc, h.test_loss, h.test_acc, h.probe, h.steps)
            for h in r.history]


class _Cut(KeyboardInterrupt):
    pass


def _cut_after(epoch: int):
    def on_epoch(record):
        if record.epoch == epoch:
            raise _Cut
    return on_epoch


def _cut_checkpoint(cfg: RunConfig, data, folder):
    """(path, contents) of `cfg`'s checkpoint after epoch 1 of a run cut there."""
    ckpt = folder / "run.pt"
    with pytest.raises(_Cut):
        fit(cfg, data, progress=False, on_epoch=_cut_after(1), checkpoint=ckpt)
    return ckpt, torch.load(ckpt, weights_only=True)


@pytest.mark.parametrize("rule,optim,noise", [
    ("ep", {}, {}),
    ("bp", {"name": "adamw", "weight_decay": 1e-3, "scheduler": "cosine"}, {}),
    ("ep", {}, {"state_std": 0.05, "state_noise_model": "batch", "weight_std": 1e-3})])
def test_a_cut_and_continued_run_ends_with_the_uncut_numbers(
        mnist_root, small_mnist, tmp_path, rule, optim, noise):
    cfg = _resume_cfg(mnist_root, rule, optim, **noise)
    uncut = fit(cfg, small_mnist, progress=False)
    ckpt = tmp_path / "run.pt"
    with pytest.raises(_Cut):
        fit(cfg, small_mnist, progress=False, on_epoch=_cut_after(1), checkpoint=ckpt)
    assert ckpt.exists()
    seen = []
    resumed = fit(cfg, small_mnist, progress=False, checkpoint=ckpt, on_epoch=lambda r: seen.append(r.epoch))
    assert seen == [2, 3]  # epoch 1 came from the checkpoint
    assert resumed.status == uncut.status == "ok"
    assert _numbers(resumed) == _numbers(uncut)
    for a, b in zip(resumed.net.state_dict().values(), uncut.net.state_dict().values()):
        assert torch.equal(a, b)
    assert not ckpt.exists()  # a finished run's record is its result, not the checkpoint


def test_another_configs_or_a_damaged_checkpoint_is_never_loaded(mnist_root, small_mnist, tmp_path, capsys):
    cfg = _resume_cfg(mnist_root, "bp")
    uncut = fit(cfg, small_mnist, progress=False)
    ckpt = tmp_path / "run.pt"
    with pytest.raises(_Cut):
        fit(replace(cfg, seed=5), small_mnist, progress=False, on_epoch=_cut_after(2), checkpoint=ckpt)
    r = fit(cfg, small_mnist, progress=False, checkpoint=ckpt)
    assert _numbers(r) == _numbers(uncut) and "another config" in capsys.readouterr().err
    with pytest.raises(_Cut):
        fit(cfg, small_mnist, progress=False, on_epoch=_cut_after(2), checkpoint=ckpt)
    ckpt.write_bytes(ckpt.read_bytes()[: ckpt.stat().st_size // 2])  # truncated, as by a cut mid-write
    (tmp_path / ".run.pt.999999.tmp").write_bytes(b"half a save")  # a temp file left by a killed save
    r = fit(cfg, small_mnist, progress=False, checkpoint=ckpt)
    err = capsys.readouterr().err
    assert _numbers(r) == _numbers(uncut) and "damaged" in err and "set aside as run.pt.set-aside.1" in err
    assert not ckpt.exists()  # no temp file left behind; both unusable files kept aside, never loaded again
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run.pt.set-aside", "run.pt.set-aside.1"]


def test_a_checkpoint_whose_tensors_belong_to_another_net_is_set_aside_and_the_run_retrained(
        mnist_root, small_mnist, tmp_path, capsys):
    """Same config key, other tensors (a checkpoint written before a net's layout changed): the run
    is trained from the start, not marked failed, and the file is kept under another name."""
    cfg = _resume_cfg(mnist_root, "bp")
    uncut = fit(cfg, small_mnist, progress=False)
    ckpt, state = _cut_checkpoint(cfg, small_mnist, tmp_path)
    name = next(iter(state["net"]))
    state["net"][name] = torch.zeros(3, 3, dtype=state["net"][name].dtype)
    torch.save(state, ckpt)
    r = fit(cfg, small_mnist, progress=False, checkpoint=ckpt)
    err = capsys.readouterr().err
    assert r.status == "ok" and _numbers(r) == _numbers(uncut)
    assert "another net" in err and "set aside as run.pt.set-aside" in err
    assert (tmp_path / "run.pt.set-aside").exists()


def test_a_checkpoint_that_cannot_be_written_is_the_set_ups_error_not_a_failed_run(
        mnist_root, small_mnist, tmp_path, monkeypatch):
    """A full disk (simulated: the temp file's writes fail) or a checkpoints 'folder' that is a
    file: a ConfigError naming the path, which stops the sweep with one line; no temp file left."""
    import errno

    from frecore.config import ConfigError

    cfg = _resume_cfg(mnist_root, "bp")
    (tmp_path / "a-file").write_text("not a folder")
    with pytest.raises(ConfigError, match="cannot write the checkpoint .*a-file/run.pt"):
        fit(cfg, small_mnist, progress=False, checkpoint=tmp_path / "a-file" / "run.pt")

    def full(obj, f, *a, **kw):
        f.write(b"half")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(torch, "save", full)
    with pytest.raises(ConfigError, match="No space left on device"):
        fit(cfg, small_mnist, progress=False, checkpoint=tmp_path / "run.pt")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a-file"]


def test_the_checkpoint_loads_with_weights_only(mnist_root, small_mnist, tmp_path):
    cfg = _resume_cfg(mnist_root, "ep")
    ckpt, state = _cut_checkpoint(cfg, small_mnist, tmp_path)
    member = state["members"][0]
    assert state["epoch"] == 1 and len(member["history"]) == 1 and member["status"] == "ok"


def test_a_checkpoint_of_the_format_before_one_loop_still_continues(mnist_root, small_mnist, tmp_path):
    """fit's checkpoints before fit and fit_members were one loop held the history at the top, were
    keyed by the bare config, and listed the init generator first: a campaign banked in that format
    continues to the uncut numbers."""
    import json

    from frecore.training.train import config_key

    cfg = _resume_cfg(mnist_root, "ep")
    uncut = fit(cfg, small_mnist, progress=False)
    ckpt, state = _cut_checkpoint(cfg, small_mnist, tmp_path)
    assert json.loads(state["config"]) == {"members": [config_key(cfg)], "stacked": False}
    member = state.pop("members")[0]
    init = torch.Generator().manual_seed(cfg.seed).get_state()
    torch.save({**state, **member, "config": config_key(cfg), "generators": [init, *state["generators"]]},
               ckpt)
    resumed = fit(cfg, small_mnist, progress=False, checkpoint=ckpt)
    assert [h.test_acc for h in resumed.history] == [h.test_acc for h in uncut.history]
    assert [h.train_loss for h in resumed.history] == [h.train_loss for h in uncut.history]



def test_a_checkpoint_written_on_a_gpu_continues_on_the_cpu(mnist_root, small_mnist, tmp_path, capsys):
    """A GPU is lent by chance: a campaign unit paused there continues here. Its key names the device
    'cuda' and that machine's data folder, and its noise streams are CUDA (Philox, 16-byte) states;
    the weights, optimiser, batch order and epoch carry over, the noise streams are seeded from the
    saved states, the same on every resume."""
    import json
    import shutil

    cfg = _resume_cfg(mnist_root, "ep")
    uncut = fit(cfg, small_mnist, progress=False)
    ckpt, state = _cut_checkpoint(cfg, small_mnist, tmp_path)
    key = json.loads(state["config"])
    member = json.loads(key["members"][0])
    assert member["device"] == "cpu"
    elsewhere = {**member, "device": "cuda", "data": {**member["data"], "root": "/gpu/machine/data"}}
    key["members"] = [json.dumps(elsewhere, sort_keys=True)]
    state["config"] = json.dumps(key)
    del state["device"], state["pace_from"]  # as the GPU checkpoints banked on 2026-12-04 were written
    order, *noise = state["generators"]
    state["generators"] = [order] + [torch.arange(16, dtype=torch.uint8) for _ in noise]
    gpu_ckpt = tmp_path / "gpu.pt"
    torch.save(state, gpu_ckpt)
    runs = []
    for _ in range(2):
        shutil.copy(gpu_ckpt, ckpt)
        capsys.readouterr()
        runs.append(fit(cfg, small_mnist, progress=False, checkpoint=ckpt))
        err = capsys.readouterr().err
        assert "set aside" not in err and "another kind of device" in err
    resumed, again = runs
    assert resumed.earlier_devices == "epochs 1-1 on cuda"  # the results row's device names both
    from frecore.experiments.registry import plan
    from frecore.reporting.store import run_record

    planned = plan("table1", "smoke")[0]
    assert run_record(planned, resumed, commit="abc")["device"].endswith("(after epochs 1-1 on cuda)")
    assert len(resumed.history) == len(uncut.history) > 1
    first = resumed.history[0]  # came from the checkpoint, not retrained
    assert (first.test_acc, first.train_loss) == (uncut.history[0].test_acc, uncut.history[0].train_loss)
    assert [h.test_acc for h in resumed.history] == [h.test_acc for h in again.history]
    assert not list(tmp_path.glob("*.set-aside*"))
    # a campaign reads the pace of the epochs trained on its own kind of device, never a GPU's
    from frecore.sweeps.campaign import checkpoint_progress

    from frecore.training.train import checkpoint_device

    assert checkpoint_device(state) == "cuda" and checkpoint_device({**state, "device": "cpu"}) == "cpu"
    assert checkpoint_progress(gpu_ckpt, "cpu") == (1, None) and checkpoint_progress(gpu_ckpt, "cuda")[1] > 0
    shutil.copy(gpu_ckpt, ckpt)
    with pytest.raises(_Cut):
        fit(cfg, small_mnist, progress=False, on_epoch=_cut_after(2), checkpoint=ckpt)
    state = torch.load(ckpt, weights_only=True)
    assert (state["device"], state["pace_from"], state["epoch"]) == ("cpu", 2, 2)
    assert state["earlier_devices"] == "epochs 1-1 on cuda"
    epoch_s = state["members"][0]["history"][1]["seconds"]
    assert checkpoint_progress(ckpt, "cpu")[1] >= epoch_s and checkpoint_progress(ckpt, "cuda")[1] is None
    # a key that names no device ('auto'): the generators' states still tell another kind of device
    auto = torch.load(gpu_ckpt, weights_only=True)
    auto["config"] = json.dumps({**key, "members": [json.dumps({**elsewhere, "device": "auto"})]})
    torch.save(auto, ckpt)
    assert fit(cfg, small_mnist, progress=False, checkpoint=ckpt).earlier_devices == \
        "epochs 1-1 on another kind of device"

# -- divergence ---------------------------------------------------------------------------------------

def test_an_exploded_but_finite_run_counts_as_diverged(mnist_root, small_mnist):
    from frecore.training.train import divergence_bound

    r = fit(_cfg(mnist_root, lr=1e30, epochs=3), small_mnist, progress=False)
    assert r.status == "diverged" and len(r.history) == 1
    assert "divergence bound" in r.message and "1000 x ln(10)" in r.message
    assert max(r.history[0].train_loss, r.history[0].test_loss) > divergence_bound(10)
    ok = fit(_cfg(mnist_root, epochs=1), small_mnist, progress=False)
    assert ok.status == "ok" and ok.message == ""
