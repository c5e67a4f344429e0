"""A kernel's session store when its server is unreachable: nothing is lost, nothing raised."""

from __future__ import annotations

import pytest

from learnpulse.collectors import server_store
from learnpulse.collectors.server_store import ServerStore, learner_store
from learnpulse.store import EventStore


def test_events_wait_in_the_sink_while_the_server_is_unreachable(monkeypatch, make_event):
    spooled = []

    class Sink:
        def put(self, event):
            spooled.append(event)

    monkeypatch.setattr("learnpulse.collectors.tracking.default_sink", Sink)
    store = ServerStore("http://127.0.0.1:1/", "token", timeout_s=1)
    events = [make_event(), make_event(offset_s=1)]
    store.append(events)  # the tutor logging an exchange: it must not fail the notebook
    assert spooled == events
    with pytest.raises(ConnectionError, match=r"GET http://127.0.0.1:1/learnpulse/api/events"):
        store.query(learners="learner-1")


def test_a_kernel_told_a_server_uses_it_unless_given_a_store(monkeypatch, tmp_path):
    monkeypatch.setenv(server_store.SERVER_URL_ENV, "http://127.0.0.1:8888/user/ada")
    monkeypatch.setenv("LEARNPULSE_TOKEN", "secret")
    told = learner_store()
    assert isinstance(told, ServerStore) and told.token == "secret"
    assert told.events_url == "http://127.0.0.1:8888/user/ada/learnpulse/api/events"
    with learner_store(f"sqlite:///{tmp_path / 'mine.db'}") as given:
        assert isinstance(given, EventStore)
