"""The HTTP source over canned API answers (the real server: tests/browser/test_http_source)."""

from __future__ import annotations

import contextlib
import json
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import polars as pl
import pytest

from learnpulse.viz.connection import ServerInfo
from learnpulse.viz.http import ApiError, HttpSource
from learnpulse.viz.learner import LearnerDrilldown

MODELS = ("mastery", "retention_risk", "score", "peers", "recommendations")


class FakeApi:
    """``HttpSource.get`` answering from a dict: route -> function of the query."""

    def __init__(self, routes):
        self.routes, self.calls = routes, []

    def __call__(self, route, **params):
        self.calls.append((route, params))
        return self.routes[route](**params)


@pytest.fixture
def source():
    return HttpSource(ServerInfo("http://127.0.0.1:1/", "", "test"), live=False)


def test_a_learner_without_model_rows_can_be_drilled_into(source, monkeypatch):
    """A learner with no attempts (or gone since the table was drawn) has empty model
    outputs; the drill-down raised ColumnNotFoundError on the column-less mastery frame."""
    empty = {"predictions": {model: [] for model in MODELS}}
    api = FakeApi({"analytics/predictive": lambda **_: empty, "events": lambda **_: {"events": []}})
    monkeypatch.setattr(source, "get", api)
    outputs = source.predictions(learner="ghost")
    assert all(frame.columns == ["learner_id"] for frame in outputs.values())
    drilldown = LearnerDrilldown(source=source, learner_id="ghost")
    assert "0 events" in drilldown._title.object and drilldown.predictions_frame.is_empty()


class _Handler(BaseHTTPRequestHandler):
    """Answers ``/learnpulse/api/<status>`` with that status and ``/learnpulse/api/html``
    with a web page (a server that is not learnpulse's); ``/learnpulse/api/slow`` late."""

    def do_GET(self):
        route = self.path.split("/")[-1].split("?")[0]
        if route == "slow":
            time.sleep(1)
        status, body = (
            (200, b"<html>hello</html>")
            if route in ("html", "slow")
            else (int(route), json.dumps({"message": "only instructors may do this"}).encode())
        )
        with contextlib.suppress(ConnectionError):  # the slow one's client gave up
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def odd_server():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield HttpSource(ServerInfo(f"http://127.0.0.1:{server.server_port}/", "t", "test"), live=False)
    server.shutdown()


def test_every_failure_of_the_server_is_an_api_error_saying_what(odd_server, source, monkeypatch):
    with pytest.raises(ApiError, match=r"^GET 403: HTTP 403: only instructors may do this$"):
        odd_server.get("403")
    with pytest.raises(
        ApiError, match=r"not JSON \(is http://127.0.0.1:\d+/ a learnpulse server\?\)"
    ):
        odd_server.get("html")  # raised JSONDecodeError: past the dashboards' error handling
    monkeypatch.setattr("learnpulse.viz.http.REQUEST_TIMEOUT_S", 0.2)
    with pytest.raises(ApiError, match=r"GET slow: .*timed out"):
        odd_server.get("slow")
    with pytest.raises(ApiError, match="GET status: server unreachable"):
        source.get("status")  # nothing listens on port 1
    with pytest.raises(ApiError, match="GET status: server unreachable"):
        source.user()


def test_the_course_predictions_hold_every_learner_past_one_page(source, monkeypatch):
    """A course with more learners than a page (10,000) showed only the first page: the
    at-risk card, the risk table and the peer ranking left the others out."""
    from learnpulse.analytics.predictions import prediction_page
    from learnpulse.viz import http

    learners = [f"learner-{i:02d}" for i in range(5)]
    outputs = {
        model: pl.DataFrame({"learner_id": learners, "value": [0.5] * 5})
        for model in (*http.COURSE_MODELS, "mastery")
    }

    def predictive(type, learner=None, limit=None, offset=0):
        page = prediction_page(outputs, [type], learners=learner, offset=offset, limit=limit)
        return {**page, "predictions": {type: page["predictions"][type].to_dicts()}}

    monkeypatch.setattr(http, "PREDICTION_PAGE_LEARNERS", 2)
    monkeypatch.setattr(source, "get", FakeApi({"analytics/predictive": predictive}))
    course = source.predictions()
    assert all(course[model]["learner_id"].to_list() == learners for model in http.COURSE_MODELS)


def test_a_learner_id_with_a_comma_is_asked_for_whole(source, monkeypatch):
    """The server reads one ``learner`` value as a comma list, so the drill-down of "Doe, Jane"
    asked for "Doe" and "Jane"; a lone id with a comma now goes twice (repeated values are
    each one id), other ids as before."""
    urls = []
    monkeypatch.setattr(source, "_fetch", lambda url, name: urls.append(url) or {"events": []})
    source.learner_events("Doe, Jane")
    source.get("analytics/predictive", learner="ada", course="a,b course")
    source.get("analytics/predictive", learner=["Doe, Jane", "ada"])
    asked = [urllib.parse.parse_qs(urllib.parse.urlsplit(url).query) for url in urls]
    assert asked[0]["learner"] == ["Doe, Jane", "Doe, Jane"]
    assert asked[1]["learner"] == ["ada"] and asked[1]["course"] == ["a,b course"] * 2
    assert asked[2]["learner"] == ["Doe, Jane", "ada"]
