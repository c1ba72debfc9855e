"""Executed notebooks are stripped of what changes between runs (frecore.reporting.notebook)."""
import json
import subprocess
import sys

import nbformat

from frecore.cli import main
from frecore.reporting.notebook import PROGRESS_PREFIX, strip_notebook


def _tiny(path):
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [nbformat.v4.new_code_cell("n = 3", metadata={"tags": ["parameters"]}),
                nbformat.v4.new_code_cell(f"import time\nprint({PROGRESS_PREFIX!r} + str(time.time()))\n"
                                          "print('kept', n * 2)\nn * 7")]
    nbformat.write(nb, path)


def _execute(src, out, cwd):
    """As `make <experiment>` runs a notebook: `frecore notebook`, -p values typed (n = 4, an int)."""
    subprocess.run([sys.executable, "-m", "frecore", "notebook", str(src), str(out), "-p", "n", "4", "-p",
                    "out_dir", str(cwd / "results")], cwd=cwd, check=True, capture_output=True, timeout=120)


def test_executing_twice_then_stripping_gives_identical_bytes(tmp_path):
    src, out = tmp_path / "tiny.ipynb", tmp_path / "tiny_out.ipynb"
    _tiny(src)
    copies = []
    for _ in range(2):
        _execute(src.name, out.name, tmp_path)
        raw = json.loads(out.read_text())
        assert "duration" in raw["metadata"]["papermill"]  # there was something volatile to strip
        assert main(["strip-notebook", str(out), "--root", str(tmp_path)]) == 0
        copies.append(out.read_bytes())
    assert copies[0] == copies[1]
    nb = json.loads(copies[0])
    code = nb["cells"][-1]
    assert "".join(code["outputs"][0]["text"]) == "kept 8\n"  # the progress line went, the output stayed
    assert "".join(code["outputs"][1]["data"]["text/plain"]) == "28"
    # the checkout's path made relative
    assert nb["metadata"]["papermill"]["parameters"]["out_dir"] == "results"
    assert "execution" not in code["metadata"] and code["execution_count"] is None


def test_strip_keeps_what_the_notebook_computed():
    nb = {"metadata": {"papermill": {"duration": 3.0, "parameters": {"profile": "quick"}}}, "nbformat": 4,
          "cells": [{"cell_type": "code", "execution_count": 5, "metadata": {"tags": ["x"], "papermill": {}},
                     "source": "", "outputs": [{"output_type": "stream", "name": "stdout",
                                                "text": [f"{PROGRESS_PREFIX}run 1 of 2\n"]},
                                               {"output_type": "stream", "name": "stderr",
                                                "text": "warn\n"}]}]}
    out = strip_notebook(nb)
    assert out["metadata"]["papermill"] == {"parameters": {"profile": "quick"}}
    cell = out["cells"][0]
    assert cell["metadata"] == {"tags": ["x"]} and cell["outputs"] == [
        {"output_type": "stream", "name": "stderr", "text": ["warn\n"]}]


def test_a_file_that_is_not_a_notebook_exits_2(tmp_path, capsys):
    bad = tmp_path / "x.ipynb"
    bad.write_text("{not json")
    assert main(["strip-notebook", str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1


def test_bad_input_inside_a_notebook_ends_in_one_line_and_a_bug_keeps_its_traceback(tmp_path):
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [nbformat.v4.new_code_cell("profile = 'smoke'", metadata={"tags": ["parameters"]}),
                nbformat.v4.new_code_cell("from frecore.config import ConfigError\n"
                                          "print('ran with', profile)\n"
                                          "if profile == 'bogus':\n    raise ConfigError('unknown profile')\n"
                                          "if profile == 'bug':\n    1 / 0")]
    src = tmp_path / "nb.ipynb"
    nbformat.write(nb, src)
    out = tmp_path / "out.ipynb"
    cmd = [sys.executable, "-m", "frecore", "notebook", str(src), str(out), "-p", "profile"]
    ok = subprocess.run(cmd + ["smoke", "--log-output"], capture_output=True, text=True, timeout=120)
    assert ok.returncode == 0 and "ran with smoke" in ok.stderr, ok.stderr  # streamed as papermill's CLI does
    bad = subprocess.run(cmd + ["bogus"], capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and "Traceback" not in bad.stderr
    assert [ln for ln in bad.stderr.splitlines() if ln.startswith("error:")] == [
        f"error: unknown profile (notebook {src}; the partly executed copy: {out})"]
    bug = subprocess.run(cmd + ["bug"], capture_output=True, text=True, timeout=120)
    assert bug.returncode == 1 and "ZeroDivisionError" in bug.stderr and "Traceback" in bug.stderr


def test_parameter_values_are_typed_as_papermills_command_line_types_them():
    """As papermill 2.7's `-p` (its cli._resolve_type): the notebooks' parameters keep their types."""
    from frecore.reporting.notebook import parameter_value

    expected = {"True": True, "False": False, "None": None, "4": 4, "-3": -3, " 5": 5, "1_000": 1000,
                "1e-3": 1e-3, "0.25": 0.25, "inf": float("inf"), "quick": "quick", "2HL BP": "2HL BP", "": "",
                "true": "true", "0x10": "0x10"}
    for text, value in expected.items():
        got = parameter_value(text)
        assert type(got) is type(value) and got == value, text
    assert parameter_value("nan") != parameter_value("nan")  # a float NaN, as papermill's
