"""``learnpulse dashboard``: arguments, errors, and a dashboard really served by the command."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
import urllib.request

import panel as pn
import pytest

from learnpulse.cli import build_parser
from learnpulse.viz.launch import DASHBOARDS, launch_dashboard


def test_the_command_line_names_every_dashboard():
    parser = build_parser()  # learnpulse's own command line
    args = parser.parse_args(["dashboard", "system", "--port", "5999", "--no-browser"])
    assert (args.name, args.port, args.no_browser) == ("system", 5999, True)
    with pytest.raises(SystemExit):
        parser.parse_args(["dashboard", "nope"])
    assert set(DASHBOARDS) == {"instructor", "student", "system", "training"}


def test_an_unknown_dashboard_is_named():
    with pytest.raises(ValueError, match="no dashboard 'nope'; choose one of instructor"):
        launch_dashboard("nope")


@pytest.mark.slow
def test_a_dashboard_is_served(tmp_path):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    command = [sys.executable, "-m", "learnpulse.cli", "dashboard", "system", "--no-browser"]
    command += ["--port", str(port), "--db", f"sqlite:///{tmp_path / 'empty.db'}"]
    server = subprocess.Popen(command, stderr=subprocess.PIPE)
    try:
        deadline, page = time.monotonic() + 60, ""
        while time.monotonic() < deadline and "bokeh" not in page.lower():
            try:
                with urllib.request.urlopen(f"http://localhost:{port}/system", timeout=5) as r:
                    page = r.read().decode()
            except OSError:
                time.sleep(0.5)
        assert "learnpulse: system" in page and "bokeh" in page.lower()
    finally:
        server.terminate()
        server.wait(10)


def test_demo_models_that_do_not_load_or_are_stale_are_fitted_again(tmp_path, monkeypatch, capsys):
    import learnpulse.viz.launch as launch
    from learnpulse.models.course_fit import FittedCourseModels
    from learnpulse.store import EventStore

    monkeypatch.setattr(launch, "DEMO_PAST_LEARNERS", 150)  # a small earlier cohort
    monkeypatch.setattr("learnpulse.viz.examples.log_example_runs", lambda store: [])
    store = EventStore(f"sqlite:///{tmp_path / 'demo.db'}")
    folder = launch.prepare_demo(store, "demo-course", tmp_path / "models") / "demo-course"
    assert FittedCourseModels.load(folder).trained_on["course_id"] == ["demo-course"]
    saved = {p.name: p.read_bytes() for p in folder.iterdir()}
    launch.prepare_demo(store, "demo-course", tmp_path / "models")  # loads: nothing made again
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == saved
    assert capsys.readouterr().err == ""
    # e.g. after an upgrade of scikit-learn: the demo fits them again instead of failing later
    manifest = json.loads((folder / "manifest.json").read_text())
    (folder / "manifest.json").write_text(json.dumps({**manifest, "scikit-learn": "0.24.2"}))
    launch.prepare_demo(store, "demo-course", tmp_path / "models")
    assert "Fitting the course models again" in capsys.readouterr().err
    reloaded = json.loads((folder / "manifest.json").read_text())
    assert reloaded["scikit-learn"] != "0.24.2"
    assert FittedCourseModels.load(folder).trained_on["course_id"] == ["demo-course"]
    # models of last week, fitted before a feature they read changed meaning: the demo owns
    # them, so it fits them again (they were kept forever, predicting on the old features)
    (folder / "manifest.json").write_text(json.dumps({**reloaded, "model_version": "1.1"}))
    launch.prepare_demo(store, "demo-course", tmp_path / "models")
    said = capsys.readouterr().err
    assert f"course models in {folder} are stale (model version 1.1, this learnpulse is" in said
    assert said.rstrip().endswith("fitting them again")
    assert not FittedCourseModels.load(folder).stale


@pytest.mark.parametrize("name", ["student", "system", "training", "instructor"])
def test_a_dashboard_whose_server_is_down_says_so(name):
    """panel serve showed a blank page (the error only in its log) when the server was down
    or refused the token; now the page says why."""
    from learnpulse.viz.connection import ServerInfo
    from learnpulse.viz.http import HttpSource
    from learnpulse.viz.launch import dashboard

    down = HttpSource(ServerInfo("http://127.0.0.1:1/", "token", "test"), live=False)
    page = pn.panel(dashboard(name, down))
    text = "\n".join(str(getattr(part, "object", "")) for part in page.select(pn.pane.Markdown))
    assert "server unreachable" in text, text
