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


def test_a_training_run_outlives_an_unreachable_server_and_says_so(monkeypatch, tmp_path, caplog):
    """A kernel told a server logs its runs there: while the server cannot be reached the
    loop goes on, the points stay in the run, and one warning names the server and what to
    do (the run went to a SQLite file in the Jupyter data dir, silently)."""
    import learnpulse
    from learnpulse.collectors.training import TrainingConfig

    monkeypatch.setenv(server_store.SERVER_URL_ENV, "http://127.0.0.1:1/")
    monkeypatch.setenv("JUPYTER_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("LEARNPULSE_DB_URL", raising=False)
    config = TrainingConfig(flush_every=2)
    with (
        caplog.at_level("WARNING", logger="learnpulse"),
        learnpulse.track_training("offline", config=config) as run,
    ):
        assert isinstance(run.store, ServerStore)
        for step in range(5):
            run.log(step=step, loss=1.0 / (step + 1))
    assert run.status == "finished" and run.metrics()["step"].to_list() == [0, 1, 2, 3, 4]
    warnings = [r.getMessage() for r in caplog.records]
    assert len(warnings) == 2, warnings  # the outage once, not once per flush; then the end
    assert f"training run 'offline' ({run.run_id}) is not stored yet: PUT " in warnings[0]
    assert f"http://127.0.0.1:1/learnpulse/api/training/runs/{run.run_id}" in warnings[0]
    assert "the server cannot be reached" in warnings[0] and "Training goes on" in warnings[0]
    assert "ended finished, not stored yet with 5 of its logged points" in warnings[1]
    assert "run.flush() tries again" in warnings[1]
    assert not (tmp_path / "data").exists()
