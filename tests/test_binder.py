"""binder/: what mybinder runs (postBuild's set-up, then ``start`` before Jupyter) gives a
server with learnpulse on the demo course, the dashboards pre-rendered and the notebooks."""

from __future__ import annotations

import os
import subprocess
import sys
import urllib.request

import pytest

from learnpulse.store import EventStore
from tests.conftest import REPO
from tests.test_demo import ServerProcess, _free_port, assert_demo_models_and_runs, demo_answers

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
    server = f"http://127.0.0.1:{port}/"
    process = ServerProcess(command, env, cwd=REPO)
    with process as proc:
        answers = demo_answers(server, TOKEN, proc)
        pages = {}
        for path in ("voila/render/dashboards/instructor.ipynb", "lab/tree/notebooks"):
            with urllib.request.urlopen(f"{server}{path}?token={TOKEN}", timeout=120) as page:
                pages[path] = (page.status, page.read().decode())
    with EventStore(f"sqlite:///{tmp_path / '.learnpulse' / 'demo.db'}") as store:
        counts, courses = store.counts(), store.courses()["course_id"].to_list()
    assert answers["status"]["counts"] == counts and counts["learners"] == 1000
    assert courses == ["demo-python-101"]
    # the course models the set-up fitted and its example training runs
    assert_demo_models_and_runs(answers, process.output)
    voila_status, voila_page = pages["voila/render/dashboards/instructor.ipynb"]
    assert voila_status == 200 and "Course dashboard" in voila_page
    assert pages["lab/tree/notebooks"][0] == 200
