"""`make lab` serves the notebooks (as root too: it adds --allow-root only then): started headless on a
free port with a token, its lab page and the notebooks' listing fetched over HTTP, then stopped."""
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

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


def test_make_lab_serves_the_notebooks(tmp_path):
    venv = Path(sys.prefix)
    port, token = _free_port(), "frecore-test-token"
    args = f"--no-browser --ServerApp.ip=127.0.0.1 --ServerApp.port={port} --IdentityProvider.token={token}"
    env = {**os.environ, "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime"), "JUPYTER_CONFIG_DIR": str(tmp_path / "config"),
           "JUPYTERLAB_WORKSPACES_DIR": str(tmp_path / "workspaces")}
    # -o: the venv running these tests is the one to use, installed already (make must not rebuild it)
    cmd = ["make", "--no-print-directory", "-o", str(venv / ".frecore-installed"), "lab", f"VENV={venv}",
           f"LAB_ARGS={args}"]
    proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
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
        assert status == 200, f"no lab page within {TIMEOUT_S}s (make exited {proc.poll()})"
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
    out = proc.stdout.read().decode(errors="replace")
    if os.getuid() == 0:
        assert "--allow-root" in out.splitlines()[0]  # make echoes its command: root gets the flag
    else:
        assert "--allow-root" not in out.splitlines()[0]
