"""`make lab` serves the notebooks, as root (it adds --allow-root only then) and as a user: started
headless on a free port with a token, its lab page and the notebooks' listing fetched over HTTP, then
stopped."""
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import REPO

TIMEOUT_S = 90  # a cold JupyterLab start on a busy 2-core machine


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as exc:
        return exc.code, b""


NOBODY = 65534  # as root, the test also runs make lab as this unprivileged user


def _as_nobody(cmd: list[str]) -> list[str]:
    return ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups", *cmd]


def _skip_unless_nobody_can_run(program: Path) -> None:
    if os.getuid() != 0 or shutil.which("setpriv") is None:
        pytest.skip("running as another user needs root and setpriv")
    if subprocess.run(_as_nobody(["sh", "-c", f"{program} --version"]), capture_output=True,
                      cwd=REPO).returncode:
        pytest.skip(f"an unprivileged user cannot run {program} on this machine")


def test_make_lab_gives_allow_root_to_root_only():
    base = ["make", "-n", "--no-print-directory", "-o", "/v/.frecore-installed", "lab", "VENV=/v"]
    mine = subprocess.run(base, cwd=REPO, capture_output=True, text=True, check=True).stdout
    assert ("--allow-root" in mine) == (os.getuid() == 0)
    assert "--ServerApp.root_dir=notebooks" in mine
    if os.getuid() == 0 and shutil.which("setpriv"):
        user = subprocess.run(_as_nobody(base), cwd=REPO, capture_output=True, text=True, check=True).stdout
        assert "jupyter lab" in user and "--allow-root" not in user


@pytest.mark.parametrize("user", ["self", "nobody"])
def test_make_lab_serves_the_notebooks(user):
    if user == "nobody":
        _skip_unless_nobody_can_run(Path(sys.prefix) / "bin" / "jupyter")
    home = Path(tempfile.mkdtemp(prefix="frecore-lab-"))
    home.chmod(0o777)  # the unprivileged user writes its runtime and config files here
    venv = Path(sys.prefix)
    port, token = _free_port(), "frecore-test-token"
    args = f"--no-browser --ServerApp.ip=127.0.0.1 --ServerApp.port={port} --IdentityProvider.token={token}"
    env = {**os.environ, "HOME": str(home), "JUPYTER_RUNTIME_DIR": str(home / "runtime"),
           "JUPYTER_CONFIG_DIR": str(home / "config"), "JUPYTERLAB_WORKSPACES_DIR": str(home / "workspaces"),
           "JUPYTER_DATA_DIR": str(home / "data"), "IPYTHONDIR": str(home / "ipython")}
    # -o: the venv running these tests is the one to use, installed already (make must not rebuild it)
    cmd = ["make", "--no-print-directory", "-o", str(venv / ".frecore-installed"), "lab", f"VENV={venv}",
           f"LAB_ARGS={args}"]
    if user == "nobody":
        cmd = _as_nobody(cmd)
    log = tempfile.TemporaryFile()  # not a pipe: a chatty server never blocks on it
    proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline, status = time.monotonic() + TIMEOUT_S, None
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                status, page = _get(f"{base}/lab?token={token}")
                if status == 200:
                    break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(0.5)
        if status != 200:
            log.seek(0)
            pytest.fail(f"no lab page within {TIMEOUT_S}s (make exited {proc.poll()}):\n"
                        + log.read().decode(errors="replace")[-2000:])
        assert b"JupyterLab" in page
        status, body = _get(f"{base}/api/contents/?token={token}")
        assert status == 200
        names = {item["name"] for item in json.loads(body)["content"]}
        assert {"table1.ipynb", "table2.ipynb"} <= names  # opened on notebooks/, not the repository root
        assert _get(f"{base}/api/contents/")[0] in (401, 403)  # no token, no notebooks
    finally:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        except ProcessLookupError:
            pass
        shutil.rmtree(home, ignore_errors=True)
    log.seek(0)
    output = log.read().decode(errors="replace")
    command = output.splitlines()[0]  # make echoes the command it runs
    as_root = os.getuid() == 0 and user == "self"
    assert ("--allow-root" in command) == as_root  # the flag for root only
