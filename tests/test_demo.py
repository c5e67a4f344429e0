"""`learnpulse demo` loads the demo course and serves it through a real Jupyter server."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest

from learnpulse.cli import DEMO_COURSE
from learnpulse.store import EventStore
from tests.conftest import REPO


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_for_json(
    url: str, proc: subprocess.Popen, timeout: float = 180, nonempty: bool = False
) -> dict | list:
    """The JSON ``url`` answers (once it is not empty, if ``nonempty``)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"demo exited early with {proc.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                body = json.loads(response.read())
            if body or not nonempty:
                return body
        except (urllib.error.URLError, ConnectionError):
            pass
        time.sleep(0.5)
    pytest.fail(f"no answer from {url} within {timeout} s")


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None  # report the redirect (as an HTTPError) instead of following it


@pytest.mark.slow
def test_demo_serves_the_demo_course_status(tmp_path):
    db = tmp_path / "demo.db"
    port = _free_port()
    env = {
        **os.environ,
        "JUPYTER_TOKEN": "demo-test-token",
        "JUPYTER_CONFIG_DIR": str(tmp_path),
        "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime"),
    }
    command = [
        sys.executable,
        "-m",
        "learnpulse.cli",
        "demo",
        "--no-browser",
        "--quiet",
        "--port",
        str(port),
        "--ip",
        "127.0.0.1",
        "--learners",
        "40",
        "--weeks",
        "3",
        "--db",
        str(db),
        "--root-dir",
        str(tmp_path),
        "--models-dir",
        str(tmp_path / "models"),
    ]
    shutil.copytree(REPO / "dashboards", tmp_path / "dashboards")
    proc = subprocess.Popen(
        command,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        server = f"http://127.0.0.1:{port}/"
        status = _wait_for_json(f"{server}learnpulse/api/status?token=demo-test-token", proc)
        # The instructor dashboard is being rendered ahead of its first visitor.
        kernels = _wait_for_json(f"{server}api/kernels?token=demo-test-token", proc, nonempty=True)
        api = f"{server}learnpulse/api/"
        runs = _wait_for_json(f"{api}training/runs?token=demo-test-token", proc)
        success = _wait_for_json(
            f"{api}analytics/predictive?type=success&limit=5&wait=true&token=demo-test-token", proc
        )
        # The server's root leads to the dashboard (where the browser opens).
        opener = urllib.request.build_opener(_NoRedirect)
        with pytest.raises(urllib.error.HTTPError) as redirect:
            opener.open(f"{server}?token=demo-test-token", timeout=10)
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        output, _ = proc.communicate(timeout=60)
    with EventStore(db) as store:
        counts = store.counts()
        courses = store.courses()["course_id"].to_list()
    assert courses == [DEMO_COURSE]
    assert status["counts"] == counts
    assert counts["learners"] == 40
    assert counts["events"] > 40 * 3
    assert f"{port}/voila/render/dashboards/instructor.ipynb" in output
    assert redirect.value.code == 302
    location = redirect.value.headers["Location"].split("?")[0]
    assert location.endswith("/voila/render/dashboards/instructor.ipynb")
    assert len(kernels) == 1 and "pre-rendering dashboards/instructor.ipynb" in output
    # the course models fitted for the demo, and example training runs for its dashboard
    assert (tmp_path / "models" / DEMO_COURSE).is_dir()
    predictions = json.dumps(success)
    assert '"model": "success/' in predictions and "unfitted" not in predictions
    assert len(runs["runs"]) > 0
