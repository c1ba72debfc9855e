"""requirements.lock is the complete dependency tree: it agrees with pyproject.toml's pins, covers every
distribution installed in the running venv (make venv installs it), and environment.yml installs it."""
import importlib.metadata as md
import re
import subprocess
import sysconfig
import tomllib
import warnings
from pathlib import Path

from packaging.requirements import Requirement

from tests.conftest import REPO

LOCK = REPO / "requirements.lock"
INSTALLERS = {"pip"}  # the venv's own installer, not a dependency of anything


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _locked(for_this_python: bool = True) -> dict[str, str]:
    """name -> pinned version, for the entries whose markers hold here (all of them otherwise)."""
    out: dict[str, str] = {}
    for line in LOCK.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith(("#", "-")):
            continue
        req = Requirement(line)
        (pin,) = req.specifier
        assert pin.operator == "==", f"not a pin: {line}"
        if not for_this_python or req.marker is None or req.marker.evaluate():
            out[_norm(req.name)] = pin.version
    return out


def _direct_url(dist: md.Distribution) -> bool:
    """Installed from a local file or folder (frecore editable, a wheel by hand), not from an index."""
    return dist.read_text("direct_url.json") is not None


def _installed() -> list[md.Distribution]:
    """The venv's own distributions: those in its site-packages, not a package's vendored copies that
    land on sys.path when it is imported (ray puts ray/thirdparty_files, holding colorama, there)."""
    site = {Path(p).resolve() for p in (sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"])}
    return list(md.distributions(path=[str(p) for p in site]))


def test_the_lock_covers_every_installed_distribution():
    locked = _locked()
    missing, other, by_hand = [], [], []
    for dist in _installed():
        name = _norm(dist.metadata["Name"])
        if name in INSTALLERS or name == "frecore":
            continue
        if name not in locked:
            (by_hand if _direct_url(dist) else missing).append(f"{name}=={dist.version}")
        elif locked[name] != dist.version:
            other.append(f"{name} {dist.version} installed, {locked[name]} locked")
    if by_hand:  # a local wheel installed by hand: no index could have resolved it, so the lock cannot
        warnings.warn(f"installed from local files, not in requirements.lock: {', '.join(sorted(by_hand))}")
    assert not missing and not other, ("this venv differs from requirements.lock (make lock, then make "
                                       "venv): "
                                       + "; ".join(sorted(missing) + sorted(other)))


def test_every_pin_of_pyproject_is_the_locked_version():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    pins = list(project["dependencies"]) + [r
                                            for extra in project["optional-dependencies"].values()
                                            for r in extra]
    locked = _locked(for_this_python=False)
    for text in pins:
        req = Requirement(text)
        (pin,) = req.specifier
        assert locked.get(_norm(req.name)) == pin.version, f"pyproject pins {text}, the lock has " \
                                                          f"{locked.get(_norm(req.name))}: run make lock"


def test_the_lock_says_how_to_regenerate_it_and_the_makefile_runs_that():
    header = LOCK.read_text().splitlines()[:2]
    command = header[1].lstrip("# ").strip()
    assert command.startswith("uv pip compile pyproject.toml") and command.endswith("-o requirements.lock")
    assert command in (REPO / "Makefile").read_text()


def test_make_venv_installs_the_lock_then_frecore_without_resolving_more(tmp_path):
    venv = tmp_path / "v"
    out = subprocess.run(["make", "-n", "-B", "venv", f"VENV={venv}"], cwd=REPO, capture_output=True,
                         text=True, check=True).stdout.splitlines()
    assert f"{venv}/bin/pip install -r requirements.lock" in out
    assert f"{venv}/bin/pip install -e . --no-deps" in out
    assert out.index(f"{venv}/bin/pip install -r requirements.lock") < out.index(
        f"{venv}/bin/pip install -e . --no-deps")


def test_environment_yml_installs_the_same_lock():
    text = (REPO / "environment.yml").read_text()
    pip = re.search(r"- pip:\n((?:\s+- .*\n?)+)", text).group(1)
    entries = [ln.strip()[2:].split("#")[0].strip() for ln in pip.splitlines() if ln.strip()]
    assert entries == ["-r requirements.lock", "-e ."]  # no pin of its own that could drift from the lock
    python = re.search(r"- python=(\d+\.\d+)", text).group(1)
    assert f"--python-version {python}." in LOCK.read_text().splitlines()[1]  # locked for that Python
