import json
import os
import subprocess
import sys

import pytest

from frecore.cli import build_parser, config_from_args, main
from tests.conftest import REPO


def _run(*args, env_extra=None):
    env = {**os.environ, "PYTHONPATH": str(REPO), **(env_extra or {})}
    return subprocess.run([sys.executable, "-m", "frecore", *args], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize("args, message", [
    (["--rule", "hebb"], "unknown rule 'hebb'"),
    (["--activation", "relu"], "unknown activation 'relu'"),
    (["--dataset", "svhn"], "unknown dataset 'svhn'"),
    (["--beta", "-0.5"], "beta must be >= 0"),
    (["--alpha", "inf"], "alpha must be finite"),
    (["--beta-f", "nan"], "beta_f must be finite"),
    (["-T", "0"], "free_steps (T) must be an integer >= 1"),
    (["-K", "0"], "nudge_steps (K) must be an integer >= 1"),
    (["--hidden", "64", "-3"], "hidden must be a non-empty list of positive integers"),
    (["--hidden", "64", "64", "--beta", "0.1", "0.2"], "one per hidden->hidden block"),
])
def test_bad_values_exit_2_with_one_message(args, message, capsys):
    assert main(["train", *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err and err.count("\n") == 1


def test_missing_data_exits_2(tmp_path, capsys):
    assert main(["train", "--data-root", str(tmp_path), "--no-download"]) == 2
    err = capsys.readouterr().err
    assert "FRECORE_DATA" in err and "Traceback" not in err


def test_cuda_without_a_gpu_exits_2(capsys, monkeypatch):
    monkeypatch.setattr("torch.cuda.is_available", lambda: False)
    assert main(["train", "--device", "cuda"]) == 2
    assert "no CUDA device" in capsys.readouterr().err


def test_unknown_experiment_exits_2(capsys):
    assert main(["run", "table9"]) == 2
    assert "unknown experiment 'table9'" in capsys.readouterr().err


def test_flags_map_onto_the_config():
    a = build_parser().parse_args(["train", "--hidden", "7", "8", "9", "--beta", "0.1", "0.2", "--lr", "1",
                                   "2", "3", "4", "--optimizer", "sgd", "-T", "18", "-K", "9",
                                   "--hold-error"])
    cfg = config_from_args(a)
    assert cfg.net.hidden == (7, 8, 9) and cfg.net.beta == (0.1, 0.2)
    assert cfg.optim.lr == (1.0, 2.0, 3.0, 4.0) and cfg.optim.name == "sgd"
    assert (cfg.rule.free_steps, cfg.rule.nudge_steps, cfg.rule.hold_error) == (18, 9, True)


def test_train_end_to_end_from_the_shell(tmp_path, mnist_root):
    out = tmp_path / "run.json"
    p = _run("train", "--hidden", "32", "32", "--epochs", "1", "--batch-size", "100", "--train-subset", "500",
             "--test-subset", "200", "--data-root", mnist_root, "--no-download", "--device", "cpu",
             "--no-progress", "--out", str(out))
    assert p.returncode == 0, p.stderr
    assert "status ok" in p.stdout
    result = json.loads(out.read_text())
    assert result["status"] == "ok" and len(result["history"]) == 1
    assert result["config"]["net"]["hidden"] == [32, 32]


def test_bad_value_from_the_shell_exits_2():
    p = _run("train", "--rule", "hebb")
    assert p.returncode == 2 and "Traceback" not in p.stderr and "unknown rule" in p.stderr


def test_a_reader_that_leaves_early_is_no_error():
    """`train --dry-run | head -2`: the closed pipe ends the command quietly, exit 0 (it printed
    'error: Broken pipe; fix that path' before)."""

    p = subprocess.Popen([sys.executable, "-m", "frecore", "train", "--dry-run"], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, env={**os.environ, "OMP_NUM_THREADS": "1"})
    p.stdout.close()  # before the child (still importing torch) writes a byte
    err = p.stderr.read().decode()
    assert p.wait() == 0 and "error" not in err, err
