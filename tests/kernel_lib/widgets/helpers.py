"""Shared by the widget, magic and notebook tests: a real SQLite store the events go to.

Import the fixtures into a test module (``from tests.kernel_lib.widgets.helpers import
tracked_store``) to use them.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import polars as pl
import pytest

from learnpulse.collectors import tracking
from learnpulse.store import EventStore
from learnpulse.widgets import LearnerSession, set_session

#: Seconds the background event sink may take to deliver what the widgets tracked.
DELIVERY_TIMEOUT_S = 10.0


@dataclass
class TrackedStore:
    """The store ``learnpulse.track`` delivers to during a test, and the learner's session."""

    url: str
    learner_id: str
    session: LearnerSession

    def events(self, kinds: str | list[str] | None = None) -> pl.DataFrame:
        """Everything delivered so far (waits for the background sink first)."""
        assert tracking.default_sink().flush(DELIVERY_TIMEOUT_S), "events were not delivered"
        with EventStore(self.url) as store:
            return store.query(kinds=kinds, learners=self.learner_id)


@contextmanager
def tracking_into(
    url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[TrackedStore]:
    """The store at ``url`` as ``$LEARNPULSE_DB_URL``, the sink delivering to it, and a fresh
    session of learner ``ada`` in the demo course (e.g. a test server's store)."""
    monkeypatch.setenv("LEARNPULSE_DB_URL", url)
    monkeypatch.setenv("LEARNPULSE_LEARNER_ID", "ada")
    monkeypatch.setenv("LEARNPULSE_SPOOL_DIR", str(tmp_path / "spool"))
    sink = tracking.configure(store_url=url, spool_dir=tmp_path / "spool")
    session = LearnerSession(learner_id="ada", store_url=url)
    set_session(session)
    try:
        yield TrackedStore(url, "ada", session)
    finally:
        set_session(None)
        sink.close()


@pytest.fixture
def tracked_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[TrackedStore]:
    """A fresh SQLite store as ``$LEARNPULSE_DB_URL``, the sink delivering to it, and a fresh
    session of learner ``ada`` in the demo course."""
    with tracking_into(f"sqlite:///{tmp_path / 'events.db'}", tmp_path, monkeypatch) as tracked:
        yield tracked
