"""The authors' printed curves kept as data: every key names a registered row or a declared label, the
numbers are percentages that agree with the notebooks' own printed summaries, the loader returns what the
reports used before, and the extraction script parses both print formats (and, given a clone of the
authors' repository in AUTHORS_REPO, reproduces the committed file byte for byte)."""
from __future__ import annotations

import json
import os
import re
import statistics
from importlib import resources
from pathlib import Path

import pytest

from frecore.experiments import get_rows, list_experiments
from frecore.reporting import authors
from tools import authors_curves as extractor

DATA = json.loads(
    resources.files("frecore.reporting").joinpath(authors.DATA_FILE).read_text(encoding="utf-8"))


def _registered(experiment: str) -> set[str]:
    return {row.label for row in get_rows(experiment)} if experiment in list_experiments() else set()


def test_every_key_names_a_registered_row_or_a_declared_label():
    extra, aliases = DATA["extra_labels"], DATA["aliases"]
    for experiment, rows in DATA["rows"].items():
        registered = _registered(experiment)
        assert registered, experiment
        for label, group in rows.items():
            assert label in registered or label in extra.get(experiment, {}), (experiment, label)
            assert group in DATA["groups"], (experiment, label, group)
    for experiment, labels in extra.items():  # a declaration goes stale once the label is a row
        for label, why in labels.items():
            assert label in DATA["rows"][experiment] and label not in _registered(experiment) and why
    for experiment, labels in aliases.items():
        for label, alias in labels.items():
            assert label in _registered(experiment) and label not in DATA["rows"][experiment], label
            assert alias["same_as"] in DATA["rows"][experiment] and alias["why"]
    for experiment, labels in DATA["not_printed"].items():
        for label, why in labels.items():
            assert why and not authors.curves_for(experiment, label), (experiment, label)
            assert label in _registered(experiment), (experiment, label)
    assert set(DATA["groups"]) == {g for rows in DATA["rows"].values() for g in rows.values()}, "unused group"


def test_curves_are_percentages_one_pair_per_epoch():
    for group_id, group in DATA["groups"].items():
        assert len(group["runs"]) == 5, group_id
        for run in group["runs"]:
            assert run["test_acc"] and len(run["train_acc"]) == len(run["test_acc"]), group_id
            assert all(0 <= x <= 100 for x in run["test_acc"] + run["train_acc"]), group_id
            assert all(round(x, 2) == x for x in run["test_acc"] + run["train_acc"]), group_id


def test_printed_summaries_agree_with_the_printed_curves():
    """Each notebook's summary is mean +- std (ddof=1) over its runs' best epoch: recomputed from the
    two-decimal curves it agrees to the printed rounding (0.01)."""
    number = r"(\d+\.\d\d)%\+-(\d+\.\d\d)%"
    for group_id, group in DATA["groups"].items():
        m = re.search(rf"train: {number} .*test: {number}", group["summary"])
        assert m, group_id
        for (mean, std), key in (((m[1], m[2]), "train_acc"), ((m[3], m[4]), "test_acc")):
            best = [max(run[key]) for run in group["runs"]]
            assert statistics.mean(best) == pytest.approx(float(mean), abs=0.011), (group_id, key)
            assert statistics.stdev(best) == pytest.approx(float(std), abs=0.011), (group_id, key)


def test_the_loader_returns_what_the_reports_read():
    conv = authors.curves_for("table1", "Conv Ours (hard-sigmoid)")
    assert len(conv) == 5 and conv[0].test_acc[:3] == (97.21, 97.96, 98.27)
    assert conv[0].train_acc[0] == 91.84 and len(conv[0].test_acc) == 40
    assert (conv[0].notebook, conv[0].cell) == ("CNN_EP_MNIST.ipynb", 3)
    assert conv[0].what.endswith("; run 0 of 5") and "beta_i=0.01" in conv[0].what
    assert authors.curves_for("tableS1", "conv-symm beta=0.01") == conv
    dlr = authors.curves_for("table1", "3HL Ours-DLR (tanh)")
    assert dlr[0].test_acc[:3] == (88.71, 90.04, 90.46) and len(dlr[0].test_acc) == 100
    assert authors.curves_for("table1", "Conv BP (tanh, Adam)") == authors.curves_for(
        "table1", "3HL BP (tanh, Adam)")
    assert authors.summary_for("table1", "Conv BP (tanh, Adam)").startswith("BP-3: train: 100.00%")
    assert authors.curves_for("table1", "no such row") == () and authors.summary_for("nope", "x") is None
    assert authors.not_printed("figS8", "P=0.3") == "not in M_range"
    assert authors.source()["commit"].startswith("ee93890")


def test_authors_best_within_our_epochs_is_unchanged():
    from frecore.sweeps.driver import authors_best_within

    assert authors_best_within("table1", "Conv Ours (hard-sigmoid)", 3) == pytest.approx(98.252)
    assert authors_best_within("table1", "3HL Ours (tanh)", 3) == pytest.approx(91.818)
    assert authors_best_within("table1", "Conv BP (tanh, Adam)", 5) == pytest.approx(97.378)


CNN_SAMPLE = """0 start at 20250720-184234
Epoch 1/40:: 470batch [00:03, 141.57batch/s, loss=0.371209]
Epoch 1 Train Loss = 0.3674, Accuracy = 89.66%, Test Accuracy = 95.79%
Epoch 2, Current LR: 2.00e-04
Epoch 2 Train Loss = 0.1200, Accuracy = 96.10%, Test Accuracy = 97.05%
1 start at 20250720-184500
Epoch 1 Train Loss = 0.3601, Accuracy = 90.00%, Test Accuracy = 95.50%
"""
LAYERED_SAMPLE = """[[0 1 0]
 [1 0 1]]
First_symm_N-HL_Res-EP_L10--MNIST_EP_b_sc0.1-
Epoch 1/50:: 100%|| 120/120 [00:02<00:00, 46.91batch/s, loss=0.836103]
\t Loss: 15.482,\tTrain : 82.34%(82.34%),\tTest : 81.25%(81.25%),\tCurrent Time: 20250720-125134
Epoch 2/50:: 100%|| 120/120 [00:02<00:00]\t Loss: 9.1,\tTrain : 88.00%(88.00%),\tTest : 80.10%(81.25%),\tCurrent
First_symm_N-HL_Res-EP_L10--MNIST_EP_b_sc0.1- Time: 20250917-163958, Epochs: 50, Learning Rate: 0.001, Best: 88.00%  81.25%

Files already downloaded and verified
First_symm_N-HL_Res-EP_L20--CIFAR10_EP_b_sc0.1-
\t Loss: 20.0,\tTrain : 30.50%(30.50%),\tTest : 33.00%(33.00%),\tCurrent Time: 20250917-172201
"""  # noqa: E501 (the authors' printed lines, verbatim)


def test_parser_reads_the_cnn_format_a_run_per_restart_at_epoch_1():
    runs = extractor.parse_runs(CNN_SAMPLE.splitlines())
    assert runs == [(["95.79", "97.05"], ["89.66", "96.10"]), (["95.50"], ["90.00"])]


def test_parser_reads_the_layered_format_a_run_per_task_line():
    runs = extractor.parse_runs(LAYERED_SAMPLE.splitlines())
    assert runs == [(["81.25", "80.10"], ["82.34", "88.00"]), (["33.00"], ["30.50"])]


def test_parser_keeps_summaries_verbatim_less_the_time_stamp():
    lines = ["EP-s-2 Time: 20250721-113326: train: 100.00%+-0.00% (100.00% 100.00%)\t test: 98.30%+-0.07% "
             "(98.21% 98.41%)",
             "\t_train: 99.41%+-0.18% (99.11% 99.54%)\t test: 98.94%+-0.20% (98.69% 99.10%)",
             "Current Time: 1"]
    assert extractor.parse_summaries(lines) == [
        "EP-s-2: train: 100.00%+-0.00% (100.00% 100.00%)\t test: 98.30%+-0.07% (98.21% 98.41%)", lines[1]]
    assert extractor.parse_summaries(lines, keep_label=False)[1] == lines[1].removeprefix("\t_")


def test_dumps_writes_two_decimals_and_leaves_lists_inside_text_alone():
    text = extractor.dumps({"what": "fbsc_range = [0.01, 0.1, 1]", "runs": [{"test_acc": [98.4, 97.21]}]})
    assert '"fbsc_range = [0.01, 0.1, 1]"' in text and '"test_acc": [98.40, 97.21]' in text
    assert json.loads(text)["runs"][0]["test_acc"] == [98.4, 97.21]


def test_script_refuses_a_folder_without_the_notebooks(tmp_path, capsys):
    assert extractor.main([str(tmp_path), "--check"]) == 2
    assert capsys.readouterr().err.startswith("error: ")


@pytest.mark.skipif(not os.environ.get("AUTHORS_REPO"),
                    reason="set AUTHORS_REPO to a clone of Zero0Hero/FRE-RNN-EP")
def test_regenerating_from_the_authors_notebooks_gives_the_committed_file():
    text = extractor.dumps(extractor.extract(Path(os.environ["AUTHORS_REPO"])))
    assert text == resources.files("frecore.reporting").joinpath(authors.DATA_FILE).read_text(
        encoding="utf-8")
