"""docs/extending.md's worked examples run as written: a stale page fails here, not for a reader."""
from __future__ import annotations

import re
import sys

from frecore.experiments import EXPERIMENTS, discover, get_rows, unregister
from frecore.reporting.store import load_runs
from frecore.sweeps.driver import run_experiment
from tests.conftest import REPO

PACKAGE = "frecore_extending_example"  # a throwaway package of tables, outside frecore/


def section(heading: str) -> str:
    """The text of docs/extending.md under a `## ` heading, up to the next one."""
    text = (REPO / "docs" / "extending.md").read_text()
    start = text.index(f"\n## {heading}\n")
    end = text.find("\n## ", start + 1)
    return text[start:] if end < 0 else text[start:end]


def python_blocks(text: str) -> list[str]:
    return re.findall(r"```python\n(.*?)```", text, flags=re.S)


def test_add_a_table_worked_example_registers_and_runs(tmp_path, monkeypatch, mnist_root):
    """The registry module of "Add a table", written into a package on sys.path, is registered
    through the public `discover` and runs its smoke profile; the registration is removed after."""
    module = next(b for b in python_blocks(section("Add a table")) if "@register_experiment" in b)
    name = re.search(r"@register_experiment.*\ndef (\w+)\(", module).group(1)
    package = tmp_path / "tables" / PACKAGE
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / f"{name}.py").write_text(module)
    monkeypatch.syspath_prepend(str(tmp_path / "tables"))
    assert name not in EXPERIMENTS
    try:
        assert discover(PACKAGE) == [name]
        labels = [r.label for r in get_rows(name)]
        out = run_experiment(name, "smoke", device="cpu", data_root=mnist_root, out_dir=str(tmp_path / "out"),
                             progress=False)
        runs = load_runs(out.runs_csv)
        assert sorted(runs["row"]) == sorted(labels) and set(runs["status"]) == {"ok"}
        assert (runs["best_test_acc"] > 10).all()  # both rules learned something in one smoke epoch
        assert list(out.summary["n"]) == [1] * len(labels)
    finally:
        if name in EXPERIMENTS:
            unregister(name)
        for mod in [m for m in sys.modules if m == PACKAGE or m.startswith(PACKAGE + ".")]:
            del sys.modules[mod]
    assert name not in EXPERIMENTS
