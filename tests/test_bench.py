"""bench/: paper_row.py's curve file survives as JSON lines and bad input exits 2; the conv diagnostic runs."""
from __future__ import annotations

import importlib.util
import json

from conftest import REPO


def _bench(name: str):
    spec = importlib.util.spec_from_file_location(name, REPO / "bench" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _paper_row():
    return _bench("paper_row")


def test_paper_row_writes_each_epoch_as_it_ends(tmp_path, mnist_root):
    out = tmp_path / "curve.jsonl"
    rc = _paper_row().main(["table2", "MNIST 5-symm BP", "--epochs", "2", "--subset", "300", "--device", "cpu",
                            "--data-root", mnist_root, "--out", str(out)])
    assert rc == 0
    header, *epochs, end = [json.loads(line) for line in out.read_text().splitlines()]
    assert (header["row"], header["epochs"], header["config"]["optim"]["lr"]) == ("MNIST 5-symm BP", 2, 1e-3)
    assert [e["epoch"] for e in epochs] == [1, 2]
    assert end["status"] == "ok" and end["best_test_acc"] == max(e["test_acc"] for e in epochs)


def test_paper_row_rate_override_is_logged(tmp_path, mnist_root):
    out = tmp_path / "curve.jsonl"
    _paper_row().main(["table2", "MNIST 5-symm BP", "--epochs", "1", "--subset", "100", "--lr", "0.01",
                       "--device", "cpu", "--data-root", mnist_root, "--out", str(out)])
    assert json.loads(out.read_text().splitlines()[0])["config"]["optim"]["lr"] == 0.01


def test_paper_row_bad_input_is_one_message(capsys):
    assert _paper_row().main(["table2", "no such row"]) == 2
    assert "unknown row" in capsys.readouterr().err
    assert _paper_row().main(["table2", "MNIST 5-symm BP", "--epochs", "0"]) == 2
    assert "epochs" in capsys.readouterr().err


def test_conv_nudged_cycle_reports_both_nudges(capsys, mnist_root):
    _bench("conv_nudged_cycle").main(["--batch", "4", "--nudge-steps", "4", "--data-root", mnist_root])
    out = capsys.readouterr().out
    assert "free phase (T=20)" in out and "error recomputed" in out and "error held" in out
