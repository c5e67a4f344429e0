"""Real servers for the browser tests: ``jupyter server`` (learnpulse + Voila + Panel preview)
and ``panel serve``, each a subprocess on a free port.

The Jupyter server serves a folder holding copies of the project's ``dashboards/`` and
``notebooks/``, with a fresh SQLite store of a simulated course (and real example training
runs), course models fitted on an earlier simulated cohort, and per-user tokens: the owner's
token (for the browser), ``teacher`` (an instructor) and one student. Dashboard kernels read
through the API as ``teacher`` (``$LEARNPULSE_API_TOKEN``).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from datetime import datetime, timedelta, timezone
from pathlib import Path

from learnpulse.cli import PREHEATING_KERNEL_MANAGER
from tests.conftest import REPO

#: Learners and weeks of the simulated course the test server serves.
TEST_LEARNERS, TEST_WEEKS = 150, 12
#: Learners of the earlier cohort the course models are fitted on.
PAST_LEARNERS = 300
COURSE = "demo-python-101"
OWNER_TOKEN = "browser-owner-token"
TEACHER_TOKEN, STUDENT_TOKEN = "token-teacher", "token-student"
#: The student the student token belongs to (an active learner of the simulated course).
STUDENT = "learner-00007"
#: Seconds the kernels must stay idle for :meth:`JupyterServer.idle_kernels` to return.
KERNELS_QUIET_S = 2.0
#: Seconds a server gets to start answering.
SERVER_START_S = 90


def python_path() -> str:
    """The servers' ``PYTHONPATH``: the project's root (for ``tests``) before the one these
    tests run with, so a worktree's servers import its own ``learnpulse``, not the installed
    one."""
    return os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH", "")) if p)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(url: str, timeout: float, token: str = OWNER_TOKEN) -> None:
    deadline = time.monotonic() + timeout
    request = urllib.request.Request(url, headers={"Authorization": f"token {token}"})
    while True:
        try:
            with urllib.request.urlopen(request, timeout=5):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.3)


class _Process:
    def _start(self, command: list[str], env: dict[str, str], cwd: Path, log: Path) -> None:
        self.log = log.open("w")
        self.process = subprocess.Popen(
            command, env=env, stdout=self.log, stderr=subprocess.STDOUT, cwd=cwd
        )

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(15)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self.log.close()


class JupyterServer(_Process):
    """A running ``jupyter server``: ``url`` (ends with "/"), ``root``, ``db_url``."""

    def __init__(
        self, root: Path, db_url: str, models_dir: Path | None = None, preheat: bool = False
    ):
        self.root, self.db_url, self.token = root, db_url, OWNER_TOKEN
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        runtime = root.parent / "runtime"
        runtime.mkdir(exist_ok=True)
        env = {
            **os.environ,
            "LEARNPULSE_DB_URL": db_url,
            "LEARNPULSE_API_URL": self.url,
            "LEARNPULSE_API_TOKEN": TEACHER_TOKEN,
            "JUPYTER_RUNTIME_DIR": str(runtime),
            "PYTHONPATH": python_path(),
        }
        tokens = json.dumps({TEACHER_TOKEN: "teacher", STUDENT_TOKEN: STUDENT})
        command = [
            sys.executable, "-m", "jupyter_server",
            f"--port={self.port}", "--ServerApp.ip=127.0.0.1",
            f"--IdentityProvider.token={OWNER_TOKEN}",
            "--ServerApp.identity_provider_class="
            "learnpulse_server.identity.ClassTokenIdentityProvider",
            f"--ClassTokenIdentityProvider.user_tokens={tokens}",
            "--LearnPulseApp.instructors=teacher",
            f"--ServerApp.root_dir={root}",
            "--ServerApp.open_browser=False",
            "--ServerApp.allow_root=True",
            "--VoilaConfiguration.show_tracebacks=True",
        ]  # fmt: skip
        if models_dir is not None:
            command.append(f"--LearnPulseApp.models_dir={models_dir}")
        if preheat:  # as learnpulse demo: the instructor dashboard rendered ahead of visits
            command.append(f"--ServerApp.kernel_manager_class={PREHEATING_KERNEL_MANAGER}")
        self._start(command, env, root, root.parent / "jupyter-server.log")
        try:
            wait_for(self.url + "learnpulse/api/status", SERVER_START_S)
        except OSError:
            self.stop()
            raise RuntimeError(f"jupyter server did not start; see {self.log.name}") from None

    def idle_kernels(self, timeout: float, quiet_s: float = KERNELS_QUIET_S) -> list[str]:
        """The ids of the running kernels once there are some and none has been starting or
        busy for ``quiet_s`` seconds (e.g. a pool's spare kernel has rendered its notebook)."""
        deadline, quiet_since = time.monotonic() + timeout, None
        while True:
            try:
                kernels = self.rest("api/kernels")
            except urllib.error.HTTPError as error:
                # jupyter_server lists a kernel whose start has finished but whose
                # last_activity is not set yet as a 500 (a race of its own): still starting
                if error.code != 500:
                    raise
                kernels = [{"execution_state": "starting"}]
            if kernels and all(k["execution_state"] == "idle" for k in kernels):
                quiet_since = quiet_since or time.monotonic()
                if time.monotonic() - quiet_since >= quiet_s:
                    return [k["id"] for k in kernels]
            else:
                quiet_since = None
            if time.monotonic() > deadline:
                raise TimeoutError(f"kernels still busy after {timeout} s: {kernels}")
            time.sleep(0.25)

    def spare_kernels(self, timeout: float) -> set[str]:
        """Ids of the kernels no session or page uses yet (a pool's spares), once idle."""
        idle = set(self.idle_kernels(timeout))
        return idle - {session["kernel"]["id"] for session in self.rest("api/sessions")}

    def rest(self, path: str) -> dict | list:
        """``GET path`` of the Jupyter server's own REST API, as the owner."""
        request = urllib.request.Request(
            self.url + path, headers={"Authorization": f"token {self.token}"}
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read())

    def api(self, route: str, body: dict | None = None, token: str = TEACHER_TOKEN) -> dict:
        """``GET`` (or ``POST`` with ``body``) ``learnpulse/api/route``."""
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            self.url + "learnpulse/api/" + route,
            data=data,
            headers={"Authorization": f"token {token}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=60) as response:
            return json.loads(response.read())


class PanelServer(_Process):
    """``panel serve`` of one app reading through ``api`` with ``token``."""

    def __init__(self, app: Path, api: JupyterServer, token: str, folder: Path):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/{app.stem}"
        env = {
            **os.environ,
            "LEARNPULSE_API_URL": api.url,
            "LEARNPULSE_API_TOKEN": token,
            "PYTHONPATH": python_path(),
        }
        command = [
            sys.executable, "-m", "panel", "serve", str(app), f"--port={self.port}",
            "--address=127.0.0.1", f"--allow-websocket-origin=127.0.0.1:{self.port}",
        ]  # fmt: skip
        self._start(command, env, folder, folder / f"panel-{app.stem}.log")
        try:
            wait_for(self.url, SERVER_START_S)
        except OSError:
            self.stop()
            raise RuntimeError(f"panel serve did not start; see {self.log.name}") from None


def serve_folder(tmp: Path) -> Path:
    """A server root holding copies of ``dashboards/`` and ``notebooks/``."""
    root = tmp / "root"
    root.mkdir()
    for folder in ("dashboards", "notebooks"):
        if (REPO / folder).is_dir():
            shutil.copytree(REPO / folder, root / folder)
    return root


def simulated_store(path: Path, learners: int = TEST_LEARNERS, training: bool = True) -> str:
    """A SQLite store with a simulated course that has just ended (and real example training
    runs).

    The course then goes on with what the tests do in it (the tutorial's events are dated
    now): the dashboards' week, month and quarter mean the same before and after. Its
    weeks end a week before today, leaving room for the final submissions that follow them.
    """
    from learnpulse.datasets.simulator import SimulationConfig, simulate_course
    from learnpulse.store import EventStore
    from learnpulse.viz.examples import log_example_runs

    url = f"sqlite:///{path}"
    now = datetime.now(timezone.utc)
    start = now.replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(weeks=TEST_WEEKS + 1)
    course = simulate_course(
        SimulationConfig(
            n_learners=learners, weeks=TEST_WEEKS, seed=0, course_id=COURSE, start=start
        )
    )
    if course.events["ts"].max() > now:
        raise RuntimeError(f"the simulated course has events after now ({now:%Y-%m-%d %H:%M})")
    with EventStore(url) as store:
        store.append_course(course, progress=False)
        if training:
            log_example_runs(store)
    return url


def fitted_models(folder: Path, learners: int = PAST_LEARNERS) -> Path:
    """Course models fitted on an earlier, simulated cohort, saved as the server loads them."""
    from learnpulse.datasets.simulator import SimulationConfig, simulate_course
    from learnpulse.models.course_fit import fit_course_models

    past = simulate_course(
        SimulationConfig(n_learners=learners, weeks=TEST_WEEKS, seed=1, course_id=COURSE)
    )
    fit_course_models(past).save(folder / COURSE)
    return folder
