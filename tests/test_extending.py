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


def test_add_a_rule_worked_example_registers_and_trains(tmp_path, monkeypatch, mnist_root):
    """The rule of "Add a learning rule", loaded from the page and given its one RULES line, trains
    a net in which only the readout moves."""
    import importlib.util

    import torch

    from frecore.config import DataConfig, NetConfig, OptimConfig, RuleConfig, RunConfig
    from frecore.rules import RULES, build_rule
    from frecore.training.loop import fit

    code = next(b for b in python_blocks(section("Add a learning rule")) if "class ReadoutOnly" in b)
    path = tmp_path / "readout_rule.py"
    path.write_text(code)
    spec = importlib.util.spec_from_file_location("readout_rule", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    monkeypatch.setitem(RULES, "readout", module.ReadoutOnly)  # the registry line

    cfg = RunConfig(net=NetConfig(hidden=(32,)), rule=RuleConfig(name="readout"),
                    optim=OptimConfig(lr=0.02, epochs=3, batch_size=50),
                    data=DataConfig(root=mnist_root, train_subset=1000, test_subset=500, download=False),
                    device="cpu")
    assert build_rule(cfg.rule).name == "readout"
    result = fit(cfg, progress=False)
    before = build_rule(cfg.rule).build_net(cfg.net, (1, 28, 28), 10, torch.Generator().manual_seed(cfg.seed))
    after = result.net
    assert torch.equal(before.w_in, after.w_in)  # hidden weights untouched
    assert not torch.equal(before.w_out, after.w_out)  # the readout learned
    assert result.status == "ok" and result.best_test_acc > 30
