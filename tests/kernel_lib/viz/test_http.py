"""The HTTP source over canned API answers (the real server: tests/browser/test_http_source)."""

from __future__ import annotations

import pytest

from learnpulse.viz.connection import ServerInfo
from learnpulse.viz.http import HttpSource
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
