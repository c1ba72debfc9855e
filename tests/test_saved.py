"""Saved models (frecore.training.saved): a net reloads from its stored config and evaluates to the
test accuracy it recorded; a foreign or corrupt file is refused with one error line, never unpickled."""
import pickle

from dataclasses import replace

import pytest
import torch

import frecore
from frecore.cli import main
from frecore.config import DataConfig, NetConfig, OptimConfig, RuleConfig, RunConfig
from frecore.training.saved import ModelFileError, load_model, save_model
from frecore.training.loop import fit


def _data(root, n=300):
    return DataConfig(root=root, download=False, train_subset=n, test_subset=200)


def test_cli_saved_model_reloads_and_evaluates_to_its_recorded_accuracy(tmp_path, mnist_root, capsys):
    path = tmp_path / "net.pt"
    assert main(["train", "--hidden", "16", "16", "--epochs", "1", "--batch-size", "50", "--train-subset",
                 "300", "--test-subset", "200", "--data-root", mnist_root, "--no-download", "--device", "cpu",
                 "--no-progress", "--save-model", str(path)]) == 0
    trained = capsys.readouterr().out
    final = float(trained.split("final test ")[1].split("%")[0])
    assert main(["evaluate", str(path)]) == 0
    line = capsys.readouterr().out
    assert f"test accuracy {final:.2f}% (recorded {final:.2f}%)" in line
    model = frecore.load_model(path)  # the one-line load
    assert model.config.net.hidden == (16, 16) and model.test_acc == pytest.approx(final, abs=0.005)


@pytest.mark.parametrize("net, rule", [
    (NetConfig(arch="conv", channels=(2, 3), kernel=3, padding=1, activation="hard-sigmoid"),
     RuleConfig(free_steps=3, nudge_steps=2)),
    (NetConfig(hidden=(12,), activation="sigmoid-s"), RuleConfig(name="pep", free_steps=3, nudge_steps=2)),
    (NetConfig(hidden=(8,) * 4, topology="agt", agt_p=0.5), RuleConfig(name="bp")),
])
def test_other_nets_rebuild_from_their_config(tmp_path, mnist_root, net, rule):
    cfg = RunConfig(net=net, rule=rule, optim=OptimConfig(epochs=1, batch_size=50),
                    data=_data(mnist_root, 100), seed=3, device="cpu")
    result = fit(cfg, progress=False)
    model = load_model(save_model(tmp_path / "m.pt", result))
    assert model.config == cfg
    assert model.evaluate() == result.final_test_acc == model.test_acc
    for (k, a), (_, b) in zip(result.net.state_dict().items(), model.net.state_dict().items()):
        assert torch.equal(a, b), k


class _Evil:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))  # would create the marker file if unpickled


@pytest.mark.parametrize("content", ["garbage", "truncated", "foreign_dict", "pickle", "other_version"])
def test_a_foreign_or_corrupt_file_is_refused_with_one_error_line(tmp_path, content, capsys):
    path, marker = tmp_path / "x.pt", tmp_path / "unpickled"
    if content == "garbage":
        path.write_bytes(b"\x00not a model at all" * 10)
    elif content == "truncated":
        torch.save({"format": "frecore-model", "version": 1, "state_dict": {"w": torch.zeros(100)}}, path)
        path.write_bytes(path.read_bytes()[:200])
    elif content == "foreign_dict":
        torch.save({"weights": torch.zeros(3)}, path)
    elif content == "pickle":
        path.write_bytes(pickle.dumps({"format": "frecore-model", "x": _Evil(marker)}))
    else:
        torch.save({"format": "frecore-model", "version": 99}, path)
    with pytest.raises(ModelFileError):
        load_model(path)
    assert main(["evaluate", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and str(path) in err
    assert not marker.exists()


def test_save_model_path_is_checked_before_training(tmp_path, capsys):
    blocker = tmp_path / "a_file"
    blocker.write_text("")
    assert main(["train", "--save-model", str(blocker / "x.pt"), "--data-root", str(tmp_path),
                 "--no-download"]) == 2
    err = capsys.readouterr().err
    # refused before looking for data
    assert err.startswith("error: ") and "--save-model" in err and "FRECORE_DATA" not in err


@pytest.mark.parametrize("executor, seeds", [("inprocess", [0]), ("side-by-side", [0, 1])])
def test_a_sweep_keeps_each_runs_final_and_best_nets(tmp_path, mnist_root, executor, seeds):
    from frecore.sweeps.driver import run_experiment

    models = tmp_path / "models"
    out = run_experiment("table1", "smoke", rows=["2HL Ours (tanh, Adam)"], seeds=seeds, device="cpu",
                         data_root=mnist_root, out_dir=str(tmp_path), progress=False, executor=executor,
                         save_models=str(models))
    assert sorted(p.name for p in models.glob("*.pt")) == sorted(
        f"{r}{kind}.pt" for r in out.runs["run_id"] for kind in ("", ".best"))
    for run_id, final, best in zip(out.runs["run_id"], out.runs["final_test_acc"], out.runs["best_test_acc"]):
        model = load_model(models / f"{run_id}.pt")
        one_sample = 100 / model.config.data.test_subset
        # alone: the very number; side by side the stacked pass sums in another order (1e-9 apart)
        assert model.evaluate() == pytest.approx(final, abs=0 if executor == "inprocess" else one_sample)
        best_model = load_model(models / f"{run_id}.best.pt")
        assert best_model.test_acc == best
        assert best_model.evaluate() == pytest.approx(best, abs=0 if executor == "inprocess" else one_sample)


@pytest.mark.parametrize("side_by_side", [False, True], ids=["alone", "side by side"])
def test_the_best_net_is_the_one_of_the_best_epoch_not_the_last(mnist_root, side_by_side):
    """A run whose accuracy falls after its peak (a large learning rate): the kept best net scores
    the best epoch's accuracy, the final net the last epoch's; also side by side, per member."""
    from frecore.config import DataConfig, NetConfig, OptimConfig, RuleConfig, RunConfig
    from frecore.training.loop import fit_members
    from frecore.training.train import evaluate, prepare
    from frecore.training.loop import fit

    cfg = RunConfig(net=NetConfig(hidden=(16,)), rule=RuleConfig(name="bp"),
                    optim=OptimConfig(lr=0.2, epochs=4, batch_size=50),
                    data=DataConfig(root=mnist_root, download=False, train_subset=300, test_subset=200),
                    device="cpu")
    results = (fit_members([cfg, replace(cfg, seed=1)], keep_best=True) if side_by_side
               else [fit(cfg, progress=False, keep_best=True)])
    _, rule, data = prepare(cfg)
    for r in results:
        accs = [h.test_acc for h in r.history]
        assert accs.index(max(accs)) < len(accs) - 1  # the case this test is about: the best is not the last
        net = rule.build_net(r.config.net, data.input_shape, data.n_classes, torch.Generator().manual_seed(0))
        net.load_state_dict(r.best_state)
        assert evaluate(rule, net, data.test)[1] == pytest.approx(r.best_test_acc, abs=100 / 200)
        assert evaluate(rule, r.net, data.test)[1] == pytest.approx(r.final_test_acc, abs=100 / 200)
