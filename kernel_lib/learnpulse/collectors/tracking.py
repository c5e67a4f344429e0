"""``learnpulse.track``: record a learning event from widgets or an instructor's own code.

The event is completed (id, time, learner, course, session), validated at once, and handed to
the process's background :class:`~learnpulse.collectors.sink.EventSink`; the call costs tens of
microseconds and never waits for the store.
"""

from __future__ import annotations

import os
import threading
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from learnpulse.collectors import context
from learnpulse.collectors.destinations import Deliver, StoreDestination
from learnpulse.collectors.sink import EventSink, SinkConfig
from learnpulse.events import new_event_id, validate_event

_lock = threading.Lock()
_sink: EventSink | None = None


def configure(
    *,
    store_url: str | os.PathLike[str] | None = None,
    spool_dir: str | os.PathLike[str] | None = None,
    deliver: Deliver | None = None,
    config: SinkConfig | None = None,
) -> EventSink:
    """Replace the process's event sink (the old one is flushed and closed).

    Parameters
    ----------
    store_url : str or path, optional
        Store to deliver to; default ``$LEARNPULSE_DB_URL``, else the default store.
    spool_dir : path, optional
        Where undelivered events wait; default ``$LEARNPULSE_SPOOL_DIR`` or the Jupyter data dir.
    deliver : callable, optional
        A custom destination (takes a list of event records, raises when unreachable);
        replaces ``store_url``.
    config : SinkConfig
        Batching, retry and memory-bound settings.
    """
    global _sink
    with _lock:
        old, _sink = (
            _sink,
            EventSink(deliver or StoreDestination(store_url), spool_dir, config or SinkConfig()),
        )
    if old is not None:
        old.close()
    return _sink


def default_sink() -> EventSink:
    """The process's event sink, created on first use with the default store and spool."""
    global _sink
    with _lock:
        if _sink is None:
            _sink = EventSink()
        return _sink


def flush(timeout: float | None = None) -> bool:
    """Wait until the events tracked so far in this process are stored (or spooled); True at
    once when none were (no sink is started for it).

    Parameters
    ----------
    timeout : float, optional
        Seconds to wait at most.

    Returns
    -------
    bool
        True if they were within ``timeout``.
    """
    with _lock:
        sink = _sink
    return True if sink is None else sink.flush(timeout)


def make_event(kind: str, **fields: Any) -> dict[str, Any]:
    """A complete, validated event record of ``kind`` (not delivered).

    ``id``, ``ts``, ``learner_id``, ``course_id`` and ``session_id`` are filled in unless given
    (see :mod:`learnpulse.collectors.context` for where they come from); ``ts`` may be a
    timezone-aware datetime.

    Raises
    ------
    learnpulse.events.EventValidationError
        Naming the field, for an unknown kind, a missing field the kind requires, an unknown
        field or a value of the wrong type.
    """
    record: dict[str, Any] = {
        "id": new_event_id(),
        "ts": datetime.now(timezone.utc),
        "learner_id": context.learner_id(),
        "course_id": context.course_id(),
        "session_id": context.session_id(),
        "kind": kind,
        **fields,
    }
    if isinstance(record["ts"], datetime):
        record["ts"] = record["ts"].isoformat()
    validate_event(record)
    return record


def track(kind: str, **fields: Any) -> dict[str, Any]:
    """Record a learning event and return it; delivery happens in the background.

    Parameters
    ----------
    kind : str
        One of :data:`learnpulse.EVENT_KINDS`, e.g. ``"attempt"``, ``"hint"``.
    **fields
        Event fields (``item_id=``, ``skills=``, ``correct=``, ``score=``, ``duration_ms=``,
        ``attempt=``, ``hints_used=``, ``confidence=``, ``difficulty=``, ``payload=`` dict ...).
        ``id``, ``ts``, ``learner_id``, ``course_id`` and ``session_id`` default to a new
        UUID, now, ``$LEARNPULSE_LEARNER_ID`` / ``$JUPYTERHUB_USER`` / the OS user,
        ``$LEARNPULSE_COURSE_ID`` (else the id of the course in ``$LEARNPULSE_COURSE_FILE``,
        else ``"demo-python-101"``) and this process's session.

    Returns
    -------
    dict
        The event record as it will be stored (``ts`` as ISO 8601 text).

    Raises
    ------
    learnpulse.events.EventValidationError
        Immediately, naming the field, when the event is invalid (a programming error): e.g.
        ``track("attempt")`` -> ``field 'item_id': is required``. Store outages never raise:
        events are spooled and delivered later.

    Examples
    --------
    >>> learnpulse.track("attempt", item_id="loops-3", skills=["loops"], correct=True)
    """
    event = make_event(kind, **fields)
    default_sink().put(event)
    return event


def spool_path() -> Path:
    """Where the current sink spools undelivered events."""
    return default_sink().spool_dir
