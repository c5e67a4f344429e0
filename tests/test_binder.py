"""binder/: what mybinder runs (postBuild's set-up, then ``start`` before Jupyter) gives a
server with learnpulse on the demo course, the dashboards pre-rendered and the notebooks."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import urllib.request

import pytest

from learnpulse.store import EventStore
from tests.conftest import REPO
from tests.test_demo import _free_port, _wait_for_json

TOKEN = "binder-test-token"


@pytest.mark.slow
def test_binder_serves_the_demo_course_dashboards_and_notebooks(tmp_path):
    # repo2docker's user: a home of its own, Jupyter's folders under it
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JUPYTER_", "LEARNPULSE_"))}
    env.update(HOME=str(tmp_path), JUPYTER_TOKEN=TOKEN)
    subprocess.run([sys.executable, "binder/setup_demo.py"], cwd=REPO, env=env, check=True)
    port = _free_port()
    command = ["bash", "binder/start", sys.executable, "-m", "jupyter", "server", "--no-browser"]
    command += [f"--port={port}", "--ip=127.0.0.1", f"--ServerApp.root_dir={REPO}"]
    command += ["--allow-root"]  # mybinder's user is not root; this machine's may be
    proc = subprocess.Popen(
        command,
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        server = f"http://127.0.0.1:{port}/"
        status = _wait_for_json(f"{server}learnpulse/api/status?token={TOKEN}", proc)
        kernels = _wait_for_json(f"{server}api/kernels?token={TOKEN}", proc, nonempty=True)
        runs = _wait_for_json(f"{server}learnpulse/api/training/runs?token={TOKEN}", proc)
        success = _wait_for_json(
            f"{server}learnpulse/api/analytics/predictive?type=success&limit=5&wait=true&token={TOKEN}",
            proc,
        )
        pages = {}
        for path in ("voila/render/dashboards/instructor.ipynb", "lab/tree/notebooks"):
            with urllib.request.urlopen(f"{server}{path}?token={TOKEN}", timeout=120) as page:
                pages[path] = (page.status, page.read().decode())
    finally:
        with contextlib.suppress(
            ProcessLookupError
        ):  # it may have exited (then its output says why)
            os.killpg(proc.pid, signal.SIGTERM)
        output, _ = proc.communicate(timeout=60)
    with EventStore(f"sqlite:///{tmp_path / '.learnpulse' / 'demo.db'}") as store:
        counts, courses = store.counts(), store.courses()["course_id"].to_list()
    assert status["counts"] == counts and counts["learners"] == 1000
    assert courses == ["demo-python-101"]
    assert len(kernels) == 1 and "pre-rendering dashboards/instructor.ipynb" in output
    assert len(runs["runs"]) > 0  # the example training runs
    predictions = json.dumps(success)  # from the course models the set-up fitted
    assert '"model": "success/' in predictions and "unfitted" not in predictions
    voila_status, voila_page = pages["voila/render/dashboards/instructor.ipynb"]
    assert voila_status == 200 and "Course dashboard" in voila_page
    assert pages["lab/tree/notebooks"][0] == 200
