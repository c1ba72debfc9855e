"""The package's layers import one way: config -> model -> rules -> training -> analysis and
experiments -> reporting -> sweeps -> cli. Every import counts, deferred ones inside functions
included, so a cycle cannot hide behind a local import (issue 11)."""
from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO

PACKAGE = REPO / "frecore"
LAYERS = {  # module prefix -> layer; a module may import its own layer (acyclically) and those below
    "frecore.config": 0,
    "frecore.model": 1,
    "frecore.rules": 2,
    "frecore.training": 3,
    "frecore.analysis": 4,
    "frecore.experiments": 4,
    "frecore.reporting": 5,
    "frecore.sweeps": 6,
    "frecore.cli": 7,
    "frecore.__main__": 7,
    "frecore": 0,  # the package's own __init__: imports nothing
}


def module_name(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def absolute(node: ast.ImportFrom, path: Path) -> str:
    """The module a `from ... import` names, relative ones (`from .x import y`) resolved against the
    importing file's package."""
    if not node.level:
        return node.module or ""
    package = module_name(path).split(".") if path.name == "__init__.py" else module_name(path).split(".")[
        :-1]
    base = package[:len(package) - node.level + 1]
    return ".".join(base + ([node.module] if node.module else []))


def imports_of(path: Path) -> set[str]:
    """Every frecore module this file imports, at module level or inside a function, relative
    imports included."""
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names if a.name.startswith("frecore")}
        elif isinstance(node, ast.ImportFrom) and absolute(node, path).startswith("frecore"):
            module = absolute(node, path)
            out.add(module)
            out |= {f"{module}.{a.name}" for a in node.names}  # `from frecore.x import module`
    return out


def graph() -> dict[str, set[str]]:
    modules = {module_name(p): p for p in PACKAGE.rglob("*.py")}
    return {m: {i for i in imports_of(p) if i in modules and i != m} for m, p in modules.items()}


def layer(module: str) -> int:
    prefix = max((p for p in LAYERS if module == p or module.startswith(p + ".")), key=len)
    return LAYERS[prefix]


def test_every_module_belongs_to_a_layer_folder():
    loose = [m for m in graph() if layer(m) == 0 and not m.startswith("frecore.config") and m != "frecore"]
    assert not loose, f"modules outside the layer folders: {loose}"


FACADE = "frecore"  # the package's __init__: `frecore.load_model(path)`, a deferred import nothing else sees


def test_no_import_goes_up_a_layer():
    upward = [(m, i) for m, deps in graph().items() for i in deps if layer(i) > layer(m) and m != FACADE]
    assert not upward, "imports that go up a layer: " + ", ".join(f"{m} -> {i}" for m, i in upward)


def test_imports_are_absolute():
    """One spelling per import, so a reader (and this test) sees where every name comes from."""
    relative = [f"{p.relative_to(REPO)}:{n.lineno}" for p in PACKAGE.rglob("*.py")
                for n in ast.walk(ast.parse(p.read_text())) if isinstance(n, ast.ImportFrom) and n.level]
    assert not relative, f"relative imports: {relative}"


def test_a_relative_import_is_resolved_to_its_module(tmp_path):
    """The layer checks see relative imports too (they would otherwise hide an upward import)."""
    tree = ast.parse("from ..sweeps.driver import run_experiment\nfrom . import probes\n")
    a, b = tree.body
    path = PACKAGE / "analysis" / "alignment.py"
    assert absolute(a, path) == "frecore.sweeps.driver" and absolute(b, path) == "frecore.analysis"


def test_experiments_do_not_import_analysis():
    """Within layer 4 the registry is data the analysis reads (Figure 2's and S10's settings), never
    the other way round: a row names its probe by string (Row.probe), so planning a sweep loads no
    measurement code."""
    wrong = [(m, i) for m, deps in graph().items() if m.startswith("frecore.experiments")
             for i in deps if i.startswith("frecore.analysis")]
    assert not wrong, wrong


def test_there_is_no_import_cycle():
    g = graph()
    state: dict[str, int] = {}  # 1 visiting, 2 done
    stack: list[str] = []

    def visit(m: str) -> None:
        state[m] = 1
        stack.append(m)
        for d in sorted(g[m]):
            if state.get(d) == 1:
                cycle = stack[stack.index(d):] + [d]
                pytest.fail("import cycle: " + " -> ".join(cycle))
            if d not in state:
                visit(d)
        stack.pop()
        state[m] = 2

    for m in sorted(g):
        if m not in state:
            visit(m)


def test_a_package_init_does_not_import_its_parent_back():
    """A cycle through a package's __init__ (pkg -> pkg.mod -> pkg) is still a cycle."""
    g = graph()
    for m, deps in g.items():
        for d in deps:
            assert m not in g.get(d, set()), f"{m} <-> {d}"


def test_the_package_facade_imports_only_inside_functions_and_nothing_imports_it():
    """`import frecore` stays free (no torch); its one-line helpers import what they need when called."""
    tree = ast.parse((PACKAGE / "__init__.py").read_text())
    top = [n for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom))]
    assert not [n for n in top if isinstance(n, ast.ImportFrom) and (n.module or "").startswith("frecore")]
    assert not [m for m, deps in graph().items() if FACADE in deps]
    out = subprocess.run([sys.executable, "-c", "import sys, frecore; print('torch' in sys.modules)"],
                         cwd=REPO, capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


def test_importing_config_loads_no_torch():
    """Configs are plain data: building one (except an AGT topology, whose graph is drawn with a
    torch.Generator) needs neither torch nor any net."""
    code = ("import sys, frecore.config as c; c.RunConfig(); "
            "c.NetConfig(hidden=(8,) * 10, topology='residual'); "
            "print(sorted(m for m in sys.modules if m == 'torch' or m.startswith('frecore')))")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True,
                         check=True).stdout
    loaded = ast.literal_eval(out)  # a printed list of module names
    assert "torch" not in loaded, loaded
    assert all(m.startswith("frecore.config") or m == "frecore" for m in loaded if m != "torch"), loaded


def test_every_net_implements_the_net_protocol():
    import torch

    from frecore.config import NetConfig
    from frecore.model.build import build_fre_net, build_prototypical_net
    from frecore.model.protocol import FRENet, Net

    gen = torch.Generator().manual_seed(0)
    layered = build_fre_net(NetConfig(hidden=(4, 4)), 6, 3, gen)
    conv = build_fre_net(NetConfig(arch="conv", channels=(2, 3), kernel=3, padding=1), (1, 8, 8), 3, gen)
    proto = build_prototypical_net(NetConfig(hidden=(4,), activation="sigmoid-s"), 6, 3, gen)
    assert all(isinstance(n, FRENet) for n in (layered, conv))
    assert isinstance(proto, Net) and not isinstance(proto, FRENet)  # P-EP's nets have no feedforward twin
    for net, x in ((layered, torch.rand(2, 6)), (conv, torch.rand(2, 64)), (proto, torch.rand(2, 6))):
        r = net.relax(net.input_drive(x), 3)
        assert r.steps == 3 and net.relax(net.input_drive(x), 2, start=r).steps == 2
