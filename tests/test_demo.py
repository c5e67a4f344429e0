"""`learnpulse demo` loads the demo course and serves it through a real Jupyter server."""

from __future__ import annotations

import contextlib
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
from pathlib import Path

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
            # a request may wait for a first computation: as long as the deadline allows
            wait = max(5.0, deadline - time.monotonic())
            with urllib.request.urlopen(url, timeout=wait) as response:
                body = json.loads(response.read())
            if body or not nonempty:
                return body
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.5)
    pytest.fail(f"no answer from {url} within {timeout} s")


class ServerProcess:
    """A server command run in its own process group, stopped on exit with SIGTERM to the
    whole group, or with ``signal_group=False`` to the command's process alone (as a process
    manager would); ``output`` is what it printed and ``survivors`` whether any process of
    the group outlived that, once stopped. Survivors are then killed."""

    def __init__(
        self,
        command: list[str],
        env: dict[str, str],
        cwd: Path | None = None,
        signal_group: bool = True,
    ):
        self.command, self.env, self.cwd, self.output = command, env, cwd, ""
        self.signal_group, self.survivors = signal_group, False

    def __enter__(self) -> subprocess.Popen:
        self.proc = subprocess.Popen(
            self.command,
            cwd=self.cwd,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        return self.proc

    def __exit__(self, *exc_info: object) -> None:
        with contextlib.suppress(ProcessLookupError):  # it may have exited: its output says why
            if self.signal_group:
                os.killpg(self.proc.pid, signal.SIGTERM)
            else:
                self.proc.send_signal(signal.SIGTERM)
        try:
            self.output, _ = self.proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:  # a process of the group still holds the output
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.output, _ = self.proc.communicate(timeout=60)
            self.survivors = True
            return
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.survivors = True
        except ProcessLookupError:
            self.survivors = False


def demo_answers(server: str, token: str, proc: subprocess.Popen) -> dict:
    """What a demo server answers: its status, its kernels once the instructor dashboard is
    being rendered ahead of its first visitor, its training runs and success predictions."""
    api = f"{server}learnpulse/api/"
    return {
        "status": _wait_for_json(f"{api}status?token={token}", proc),
        "kernels": _wait_for_json(f"{server}api/kernels?token={token}", proc, nonempty=True),
        "runs": _wait_for_json(f"{api}training/runs?token={token}", proc),
        "success": _wait_for_json(
            f"{api}analytics/predictive?type=success&limit=5&wait=true&token={token}", proc
        ),
    }


def assert_demo_models_and_runs(answers: dict, output: str) -> None:
    """One pre-rendering kernel, fitted course models' predictions, example training runs."""
    assert len(answers["kernels"]) == 1
    assert "pre-rendering dashboards/instructor.ipynb" in output
    predictions = json.dumps(answers["success"])
    assert '"model": "success/' in predictions and "unfitted" not in predictions
    assert len(answers["runs"]["runs"]) > 0


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
    server = f"http://127.0.0.1:{port}/"
    # stopped like a process manager would: SIGTERM to the demo's own process only
    process = ServerProcess(command, env, signal_group=False)
    with process as proc:
        answers = demo_answers(server, "demo-test-token", proc)
        # The server's root leads to the dashboard (where the browser opens).
        opener = urllib.request.build_opener(_NoRedirect)
        with pytest.raises(urllib.error.HTTPError) as redirect:
            opener.open(f"{server}?token=demo-test-token", timeout=10)
    output = process.output
    assert not process.survivors, "SIGTERM to learnpulse demo left processes running"
    with EventStore(db) as store:
        counts = store.counts()
        courses = store.courses()["course_id"].to_list()
    assert courses == [DEMO_COURSE]
    assert answers["status"]["counts"] == counts
    assert counts["learners"] == 40
    assert counts["events"] > 40 * 3
    assert f"{port}/voila/render/dashboards/instructor.ipynb" in output
    assert redirect.value.code == 302
    location = redirect.value.headers["Location"].split("?")[0]
    assert location.endswith("/voila/render/dashboards/instructor.ipynb")
    # the course models fitted for the demo, and example training runs for its dashboard
    assert (tmp_path / "models" / DEMO_COURSE).is_dir()
    assert_demo_models_and_runs(answers, output)
