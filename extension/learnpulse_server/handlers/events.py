"""POST/GET learnpulse/api/events and the WebSocket learnpulse/api/events/stream.

A student may only post events whose ``learner_id`` is their own user name (403 naming the
field otherwise: the server never rewrites what a client sent) and only ever reads their own
events; instructors post and read for anyone.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Any

import polars as pl
from jupyter_server.auth.decorator import authorized
from tornado import web

from learnpulse.events import EVENT_KINDS, EventValidationError
from learnpulse.store import AppendResult, EventStore
from learnpulse_server.handlers.base import (
    API_PREFIX,
    LearnPulseHandler,
    LearnPulseMixin,
    LearnPulseWebSocketHandler,
    bad_request,
    internal_error_message,
)

#: Events per ``GET events`` page unless ``?limit=`` says otherwise.
DEFAULT_PAGE_EVENTS = 1_000
#: Largest ``?limit=`` of ``GET events``.
MAX_PAGE_EVENTS = 10_000
#: Seconds between a stream's looks at the store for events written by other processes
#: (kernels write directly); events posted to this server wake the streams at once.
STREAM_POLL_S = 1.0
#: Most events in one ``events/stream`` message.
STREAM_BATCH_EVENTS = 1_000
#: Largest sequence number the store can hold (64-bit); bigger ``after`` values are a 400.
MAX_SEQ = 2**63 - 1
#: Most events stored in one transaction by :class:`GroupCommitter` (a bigger batch goes alone).
GROUP_COMMIT_EVENTS = 20_000
#: The only field of a ``POST events`` body.
BATCH_FIELD = "events"


class EventFeed:
    """Wakes this server's event streams when a POST stores new events."""

    def __init__(self) -> None:
        self._changed = asyncio.Event()

    def changed(self) -> asyncio.Event:
        """The event set by the next :meth:`notify` (take it *before* reading the store)."""
        return self._changed

    def notify(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()


def event_feed(settings: dict[str, Any]) -> EventFeed:
    """The server's one :class:`EventFeed` (analytics streams may wait on it too)."""
    return settings.setdefault("learnpulse_event_feed", EventFeed())


class GroupCommitter:
    """Stores the batches of concurrent ``POST events`` together, in one transaction.

    Each commit costs as much as inserting hundreds of events, and SQLite has one writer:
    batches that arrive while a write is running wait for it, then go to the store in one
    transaction (group commit); each request still gets its own answer, after the commit.
    """

    def __init__(self, store: EventStore) -> None:
        self._store = store
        self._waiting: list[tuple[list[Any], asyncio.Future[AppendResult]]] = []
        self._writer: asyncio.Task[None] | None = None

    async def append(self, events: list[Any]) -> AppendResult:
        """Store one batch: its result, or raise its :class:`EventValidationError`."""
        future = asyncio.get_running_loop().create_future()
        self._waiting.append((events, future))
        if self._writer is None:
            self._writer = asyncio.create_task(self._write_waiting())
        return await future

    async def _write_waiting(self) -> None:
        try:
            while self._waiting:
                group, self._waiting = _take_group(self._waiting)
                try:
                    outcomes = await self._store_batches([events for events, _ in group])
                except Exception:
                    # the store failed the transaction: each batch goes again on its own, so
                    # that only the one it cannot take fails, not every request of the group
                    outcomes = [await self._store_alone(events) for events, _ in group]
                for (_, future), outcome in zip(group, outcomes, strict=True):
                    if future.cancelled():  # the request has gone (the server is stopping)
                        continue
                    if isinstance(outcome, Exception):
                        future.set_exception(outcome)
                    else:
                        future.set_result(outcome)
        finally:
            self._writer = None

    async def _store_batches(self, batches: list[list[Any]]) -> list[Any]:
        return await asyncio.to_thread(self._store.append_batches, batches)

    async def _store_alone(self, events: list[Any]) -> Any:
        """One batch's outcome: its result or validation error, or the store's exception."""
        try:
            return (await self._store_batches([events]))[0]
        except Exception as error:
            return error


def _take_group(waiting: list[tuple[list[Any], Any]]) -> tuple[list, list]:
    """The first waiting batches up to :data:`GROUP_COMMIT_EVENTS` events (at least one)."""
    total = 0
    for count, (events, _) in enumerate(waiting):
        total += len(events)
        if total > GROUP_COMMIT_EVENTS and count:
            return waiting[:count], waiting[count:]
    return waiting, []


def group_committer(settings: dict[str, Any]) -> GroupCommitter:
    """The server's one :class:`GroupCommitter`."""
    return settings.setdefault(
        "learnpulse_group_committer", GroupCommitter(settings["learnpulse_store"])
    )


def events_json(frame: pl.DataFrame) -> list[dict[str, Any]]:
    """Rows of an event frame as JSON-ready records (payload decoded from its JSON text)."""
    records = frame.to_dicts()
    for record in records:
        if record["payload"] is not None:
            record["payload"] = json.loads(record["payload"])
    return records


def page_json(frame: pl.DataFrame, limit: int) -> dict[str, Any]:
    """A page of events (frame with ``seq``) and the cursor of the next page (None at the end)."""
    full = frame.height == limit and limit > 0
    return {"events": events_json(frame), "next": frame["seq"][-1] if full else None}


def latest_seq(store: EventStore) -> int:
    """The largest sequence number stored (0 when empty), in O(log n) indexed probes.

    Sequence numbers are distinct positive integers, so the count of events is a lower bound
    of the largest one; without deletions or skipped numbers it is the answer (two probes).
    """

    def stored_after(seq: int) -> bool:
        return store.query(after_seq=seq, order="seq", limit=1).height > 0

    low = store.counts()["events"]  # invariant: low == 0 or a seq <= the answer exists
    high = max(low, 1)
    while stored_after(high):
        low, high = high, high * 2
    while high - low > 1:  # invariant: stored_after(low) or low == answer; not stored_after(high)
        middle = (low + high) // 2
        low, high = (middle, high) if stored_after(middle) else (low, middle)
    return high if stored_after(low) else low


class EventsHandler(LearnPulseHandler):
    auth_resource = "learnpulse:events"

    @web.authenticated
    @authorized
    async def post(self) -> None:
        events = self._batch()
        try:
            result = await group_committer(self.settings).append(events)
        except EventValidationError as exc:
            self.write_json({"message": str(exc), "errors": exc.to_json()}, 400)
            return
        if result.inserted:
            event_feed(self.settings).notify()
        counts = {"received": result.received, "stored": result.inserted}
        self.write_json({**counts, "duplicates": result.duplicates}, 201)

    @web.authenticated
    @authorized
    async def get(self) -> None:
        limit = self.query_int("limit", DEFAULT_PAGE_EVENTS, minimum=1, maximum=MAX_PAGE_EVENTS)
        frame = await self.off_loop(
            self.store.query, **event_filters(self), limit=limit, order="seq", with_seq=True
        )
        self.write_json(page_json(frame, limit))

    def _batch(self) -> list[Any]:
        """The body's event list: 400 if malformed, 413 if too long, 403 if not the student's."""
        body = self.json_object_body()
        extra = sorted(set(body) - {BATCH_FIELD})
        if BATCH_FIELD not in body or extra:
            raise bad_request(
                f'the body must be {{"{BATCH_FIELD}": [...]}}'
                + (f"; field '{extra[0]}' is not allowed" if extra else "")
            )
        events = body[BATCH_FIELD]
        if not isinstance(events, list):
            raise bad_request(f"field '{BATCH_FIELD}' must be an array of events")
        limit = self.extensionapp.max_batch_events
        if len(events) > limit:
            raise bad_request(f"{len(events)} events in one batch; the limit is {limit}", 413)
        if not self.is_instructor:
            for index, event in enumerate(events):
                if isinstance(event, dict) and event.get("learner_id", self.learner_id) != (
                    self.learner_id
                ):
                    raise web.HTTPError(
                        403,
                        "%s",
                        f"events[{index}].learner_id: a student may only post their own "
                        f"events (learner_id {self.learner_id!r})",
                    )
        return events


def event_filters(handler: LearnPulseMixin) -> dict[str, Any]:
    """The store query filters of ``GET events`` / ``events/stream`` (students: only themself)."""
    return {
        "course": handler.query_list("course"),
        "learners": handler.visible_learners(handler.query_list("learner")),
        "kinds": handler.query_choices("kind", EVENT_KINDS),
        "items": handler.query_list("item"),
        "since": handler.query_datetime("since"),
        "until": handler.query_datetime("until"),
        "after_seq": handler.query_int("after", None, maximum=MAX_SEQ),
    }


class EventStreamHandler(LearnPulseWebSocketHandler):
    """Pushes ``{"events": [...], "next": seq}`` messages as matching events are stored.

    A failure (the store's, say) is one ``{"type": "error", "message"}`` message, logged,
    then the socket closes with code 1011: the client reconnects later, rather than waiting
    for ever on an open socket that nothing feeds.
    """

    auth_resource = "learnpulse:events"
    _pump: asyncio.Task | None = None

    @web.authenticated
    @authorized
    async def get(self, *args: Any, **kwargs: Any) -> None:
        self._filters = event_filters(self)  # bad parameters: 400 before the upgrade
        await super().get(*args, **kwargs)

    async def open(self, *args: Any, **kwargs: Any) -> None:
        self._pump = asyncio.create_task(self._forward())

    async def _forward(self) -> None:
        """Send the matching events until the socket closes, or say why it stops."""
        try:
            await self._send_new_events()
        except Exception as error:  # cancelled (the socket closed) is no failure
            self.log.exception("learnpulse: events/stream of %s failed", self.learner_id)
            self.fail(internal_error_message(error))

    async def _send_new_events(self) -> None:
        if self._filters["after_seq"] is None:
            self._filters["after_seq"] = await self.off_loop(latest_seq, self.store)
        feed = event_feed(self.settings)
        while self.ws_connection is not None:
            changed = feed.changed()
            frame = await self.off_loop(
                self.store.query,
                **self._filters,
                limit=STREAM_BATCH_EVENTS,
                order="seq",
                with_seq=True,
            )
            if frame.height:
                self._filters["after_seq"] = frame["seq"][-1]
                await self.flush_json({"events": events_json(frame), "next": frame["seq"][-1]})
            if frame.height < STREAM_BATCH_EVENTS:
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(changed.wait(), STREAM_POLL_S)

    def on_message(self, message: str | bytes) -> None:
        """Clients only listen; anything they send is ignored."""

    def on_close(self) -> None:
        if self._pump is not None:
            self._pump.cancel()


handlers = [
    (rf"{API_PREFIX}/events", EventsHandler),
    (rf"{API_PREFIX}/events/stream", EventStreamHandler),
]
