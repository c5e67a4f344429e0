"""POST/GET learnpulse/api/events and the events/stream WebSocket, through a real server."""

from __future__ import annotations

import asyncio
import itertools
import json
import sqlite3
import threading
import time

import pytest
from sqlalchemy.exc import OperationalError
from tornado.httpclient import HTTPClientError

from learnpulse.store import EventStore
from tests.extension.conftest import (
    ANONYMOUS,
    as_user,
    eventually,
    learnpulse_app,
    running_tasks,
)


async def post_events(jp_fetch, events, user="teacher"):
    return await jp_fetch(
        "learnpulse",
        "api",
        "events",
        method="POST",
        body=json.dumps({"events": events}),
        headers=as_user(user),
    )


async def get_events(jp_fetch, user="teacher", **params):
    response = await jp_fetch("learnpulse", "api", "events", params=params, headers=as_user(user))
    return json.loads(response.body)


async def refused(call) -> tuple[int, dict]:
    with pytest.raises(HTTPClientError) as info:
        await call
    return info.value.code, json.loads(info.value.response.body)


def stored_count(lp_db_url) -> int:
    with EventStore(lp_db_url) as store:
        return store.counts()["events"]


async def test_post_stores_counts_and_skips_duplicates(jp_fetch, lp_db_url, make_event):
    events = [make_event(offset_s=i, learner_id="ada") for i in range(3)]
    first = await post_events(jp_fetch, events, user="ada")
    assert first.code == 201
    assert json.loads(first.body) == {"received": 3, "stored": 3, "duplicates": 0}
    again = await post_events(jp_fetch, [*events[1:], make_event(learner_id="ada")], user="ada")
    assert json.loads(again.body) == {"received": 3, "stored": 1, "duplicates": 2}
    assert stored_count(lp_db_url) == 4
    page = await get_events(jp_fetch, user="ada")
    assert len(page["events"]) == 4
    assert {e["id"] for e in events} <= {e["id"] for e in page["events"]}


async def test_student_posting_for_another_learner_is_refused_whole(
    jp_fetch, lp_db_url, make_event
):
    batch = [make_event(learner_id="ada"), make_event(learner_id="bob")]
    code, body = await refused(post_events(jp_fetch, batch, user="ada"))
    assert code == 403
    assert "events[1].learner_id" in body["message"]
    assert stored_count(lp_db_url) == 0
    # An instructor may post for anyone.
    assert (await post_events(jp_fetch, batch, user="teacher")).code == 201


async def test_invalid_events_are_listed_and_nothing_is_written(jp_fetch, lp_db_url, make_event):
    batch = [
        make_event(learner_id="ada"),
        make_event(learner_id="ada", kind="teleport"),
        make_event(learner_id="ada", duration_ms="slow"),
    ]
    code, body = await refused(post_events(jp_fetch, batch, user="ada"))
    assert code == 400
    assert [(e["index"], e["field"]) for e in body["errors"]] == [(1, "kind"), (2, "duration_ms")]
    assert "teleport" in body["errors"][0]["message"]
    assert stored_count(lp_db_url) == 0


async def test_concurrent_posts_share_commits_and_each_gets_its_answer(
    jp_fetch, jp_serverapp, lp_db_url, make_event
):
    store = jp_serverapp.web_app.settings["learnpulse_store"]
    writes = []
    append_batches = store.append_batches
    store.append_batches = lambda batches: writes.append(len(batches)) or append_batches(batches)
    batches = [[make_event(offset_s=10 * k + i) for i in range(10)] for k in range(12)]
    batches[5][3]["kind"] = "teleport"
    answers = await asyncio.gather(
        *(post_events(jp_fetch, batch) for batch in batches), return_exceptions=True
    )
    refused_answer = answers.pop(5)
    assert isinstance(refused_answer, HTTPClientError) and refused_answer.code == 400
    assert "teleport" in refused_answer.response.body.decode()
    assert [json.loads(a.body)["stored"] for a in answers] == [10] * 11
    assert stored_count(lp_db_url) == 110
    assert sum(writes) == 12 and len(writes) < 12  # some batches went in one transaction


async def test_a_batch_the_store_fails_fails_alone(jp_fetch, jp_serverapp, lp_db_url, make_event):
    # a store error on one batch used to fail every request of its group commit
    store = jp_serverapp.web_app.settings["learnpulse_store"]
    append_batches = store.append_batches

    def fail_poisoned(batches):
        if any(e["learner_id"] == "poison" for batch in batches for e in batch):
            raise RuntimeError("the store cannot take this batch")
        return append_batches(batches)

    store.append_batches = fail_poisoned
    batches = [[make_event(offset_s=10 * k + i) for i in range(10)] for k in range(12)]
    batches[4][2]["learner_id"] = "poison"
    answers = await asyncio.gather(
        *(post_events(jp_fetch, batch) for batch in batches), return_exceptions=True
    )
    failed = answers.pop(4)
    assert isinstance(failed, HTTPClientError) and failed.code == 500
    assert [json.loads(a.body)["stored"] for a in answers] == [10] * 11
    assert stored_count(lp_db_url) == 110


async def test_batches_over_the_limit_get_413(jp_fetch, jp_serverapp, lp_db_url, make_event):
    learnpulse_app(jp_serverapp).max_batch_events = 3
    code, body = await refused(post_events(jp_fetch, [make_event() for _ in range(4)]))
    assert code == 413
    assert "limit is 3" in body["message"]
    assert (await post_events(jp_fetch, [make_event() for _ in range(3)])).code == 201
    assert stored_count(lp_db_url) == 3


@pytest.mark.parametrize(
    ("body", "named"),
    [
        (b"{not json", "not valid JSON"),
        (b"", "empty"),
        (b"[1, 2]", "JSON object, not an array"),
        (b'{"events": {}}', "'events' must be an array"),
        (b'{"event": []}', '"events"'),
        (b'{"events": [], "extra": 1}', "'extra' is not allowed"),
        (b"\xff\xfe", "not UTF-8"),
        (b'{"events": [' + b"[" * 100_000 + b"]" * 100_000 + b"]}", "nested too deeply"),
    ],
)
async def test_malformed_bodies_get_400_naming_the_problem(jp_fetch, lp_db_url, body, named):
    call = jp_fetch(
        "learnpulse",
        "api",
        "events",
        method="POST",
        body=body,
        headers=as_user("teacher"),
        allow_nonstandard_methods=True,
    )
    code, reply = await refused(call)
    assert code == 400
    assert named in reply["message"]
    assert stored_count(lp_db_url) == 0


async def test_get_pages_filters_and_hides_other_learners(jp_fetch, make_event):
    kinds = ["attempt", "hint", "resource_view"]
    events = [
        make_event(offset_s=i, learner_id=("ada", "bob")[i % 2], kind=kinds[i % 3], correct=True)
        for i in range(25)
    ]
    await post_events(jp_fetch, events)
    seen, after, pages = [], 0, 0
    while after is not None:
        page = await get_events(jp_fetch, limit=10, after=after)
        seen += page["events"]
        after, pages = page["next"], pages + 1
    assert pages == 3
    assert [e["id"] for e in seen] == [e["id"] for e in events]
    assert [e["seq"] for e in seen] == sorted({e["seq"] for e in seen})
    hints = await get_events(jp_fetch, kind="hint,resource_view", learner="bob")
    assert {(e["kind"], e["learner_id"]) for e in hints["events"]} == {
        ("hint", "bob"),
        ("resource_view", "bob"),
    }
    window = await get_events(jp_fetch, since=events[5]["ts"], until=events[8]["ts"])
    assert [e["id"] for e in window["events"]] == [e["id"] for e in events[5:8]]
    # A student gets their own rows only, whatever they ask for.
    asked = await get_events(jp_fetch, user="bob", learner="ada")
    assert asked["events"] and {e["learner_id"] for e in asked["events"]} == {"bob"}


async def test_get_names_a_learner_whose_id_has_a_comma(jp_fetch, make_event):
    """``?learner=Doe, Jane`` asked for "Doe" and "Jane", and nothing asked for "Doe, Jane"
    alone: each value of a repeated ``learner`` is now one id, commas and all."""
    names = ["Doe, Jane", "Doe", "Jane", "bob"]
    await post_events(jp_fetch, [make_event(offset_s=i, learner_id=n) for i, n in enumerate(names)])

    async def learners_of(*params: tuple[str, str]) -> list[str]:
        response = await jp_fetch(
            "learnpulse", "api", "events", params=list(params), headers=as_user("teacher")
        )
        return [event["learner_id"] for event in json.loads(response.body)["events"]]

    assert await learners_of(("learner", "Doe, Jane"), ("learner", "Doe, Jane")) == ["Doe, Jane"]
    assert await learners_of(("learner", "Doe, Jane"), ("learner", "bob")) == ["Doe, Jane", "bob"]
    assert await learners_of(("learner", "Doe, Jane")) == ["Doe", "Jane"]  # a list, as before
    assert await learners_of(("kind", "hint,attempt"), ("kind", "cell_error")) == names
    code, body = await refused(get_events(jp_fetch, learner=" , "))
    assert code == 400 and "query parameter 'learner' must name at least one" in body["message"]


@pytest.mark.parametrize(
    ("params", "named"),
    [
        ({"kind": "teleport"}, "'kind'"),
        ({"since": "yesterday"}, "'since'"),
        ({"until": "2024-09-02T09:00:00"}, "'until'"),
        ({"limit": "0"}, "'limit'"),
        ({"limit": "ten"}, "'limit'"),
        ({"after": "-1"}, "'after'"),
        ({"after": str(2**64)}, "'after'"),
        ({"course": "x" * 5000}, "'course'"),
    ],
)
async def test_bad_query_parameters_get_400_naming_them(jp_fetch, params, named):
    call = jp_fetch("learnpulse", "api", "events", params=params, headers=as_user("teacher"))
    code, reply = await refused(call)
    assert code == 400
    assert named in reply["message"]


async def test_anonymous_may_neither_read_nor_write(jp_fetch, lp_db_url, make_event):
    body = json.dumps({"events": [make_event()]})
    for method, payload in (("GET", None), ("POST", body)):
        call = jp_fetch(
            "learnpulse", "api", "events", method=method, body=payload, headers=ANONYMOUS
        )
        code, _ = await refused(call)
        assert code == 403
    assert stored_count(lp_db_url) == 0


async def next_message(ws, timeout=5.0) -> dict:
    return json.loads(await asyncio.wait_for(ws.read_message(), timeout))


async def test_stream_pushes_new_events_and_students_only_their_own(
    jp_fetch, jp_ws_fetch, make_event
):
    await post_events(jp_fetch, [make_event(learner_id="ada")])  # before: not streamed
    ada = await jp_ws_fetch("learnpulse", "api", "events", "stream", headers=as_user("ada"))
    teacher = await jp_ws_fetch("learnpulse", "api", "events", "stream", headers=as_user("teacher"))
    await asyncio.sleep(0.3)  # let both streams take their starting point
    batch = [make_event(offset_s=i, learner_id=("bob", "ada")[i % 2]) for i in range(4)]
    await post_events(jp_fetch, batch)
    got = await next_message(ada)
    assert [e["id"] for e in got["events"]] == [batch[1]["id"], batch[3]["id"]]
    seen = []
    while len(seen) < 4:
        seen += (await next_message(teacher))["events"]
    assert [e["id"] for e in seen] == [e["id"] for e in batch]
    ada.close()
    teacher.close()


async def test_stream_sees_events_written_by_other_processes(jp_ws_fetch, lp_db_url, make_event):
    ws = await jp_ws_fetch(
        "learnpulse", "api", "events", "stream", params={"after": "0"}, headers=as_user("ada")
    )
    event = make_event(learner_id="ada")
    with EventStore(lp_db_url) as store:  # like a kernel writing to the store directly
        store.append([event])
    got = await next_message(ws)
    assert [e["id"] for e in got["events"]] == [event["id"]]
    ws.close()


async def test_stream_refuses_anonymous_and_bad_parameters(jp_ws_fetch):
    for headers, params, code in ((ANONYMOUS, {}, 403), (as_user("ada"), {"kind": "x"}, 400)):
        with pytest.raises(HTTPClientError) as info:
            await jp_ws_fetch(
                "learnpulse", "api", "events", "stream", params=params, headers=headers
            )
        assert info.value.code == code


def test_latest_seq_finds_the_newest_event_across_gaps(tmp_path, make_event):
    from learnpulse_server.handlers.events import latest_seq

    with EventStore(f"sqlite:///{tmp_path / 'seq.db'}") as store:
        assert latest_seq(store) == 0
        store.append([make_event(learner_id=f"l{i % 3}", offset_s=i) for i in range(40)])
        assert latest_seq(store) == 40
        store.forget("l0")  # 14 rows gone: the count no longer equals the newest seq
        store.forget("l1")
        assert store.counts()["events"] == 13
        assert latest_seq(store) == store.query(with_seq=True, order="seq")["seq"].max() == 39


async def test_stream_to_a_client_that_does_not_read_holds_back(
    jp_ws_fetch, lp_db_url, make_event, monkeypatch
):
    """The stream sent every stored event at once whatever the client took: one that did not
    read (or read slowly) made the server hold the whole event log, as JSON, in memory."""
    from learnpulse_server.handlers import events as module

    streams = []
    opened = module.EventStreamHandler.open

    async def open_and_keep(handler, *args, **kwargs):
        streams.append(handler)
        await opened(handler, *args, **kwargs)

    monkeypatch.setattr(module.EventStreamHandler, "open", open_and_keep)
    note = "x" * 2000  # ~45 MB of JSON in all: more than the sockets' buffers
    events = [make_event(offset_s=i, payload={"note": note}) for i in range(20_000)]
    with EventStore(lp_db_url) as store:
        store.append(events)
        last_seq = store.query(order="seq", with_seq=True)["seq"].max()
    ws = await jp_ws_fetch(
        "learnpulse", "api", "events", "stream", params={"after": "0"}, headers=as_user("teacher")
    )
    (stream,) = streams
    progress, settled = None, 0
    while settled < 5:  # until the pump stops advancing (it waits on the client, or is done)
        await asyncio.sleep(0.2)
        now = stream._filters["after_seq"]
        settled, progress = (settled + 1, now) if now == progress else (0, now)
    buffered = stream.ws_connection.stream._total_write_index - (
        stream.ws_connection.stream._total_write_done_index
    )
    assert progress < last_seq, "the whole log was read for a client that took nothing"
    assert buffered < 4 * module.STREAM_BATCH_EVENTS * len(note)
    received = []
    while len(received) < len(events):  # a client that reads then gets everything, in order
        received += [e["id"] for e in (await next_message(ws, timeout=30))["events"]]
    assert received == [e["id"] for e in events]
    ws.close()


def break_queries(store: EventStore, monkeypatch) -> threading.Event:
    """While the returned event is set, ``store.query`` raises as a locked SQLite file does."""
    broken, query = threading.Event(), store.query

    def query_unless_broken(*args, **kwargs):
        if broken.is_set():
            locked = sqlite3.OperationalError("database is locked")
            raise OperationalError("SELECT ... FROM events", {}, locked)
        return query(*args, **kwargs)

    monkeypatch.setattr(store, "query", query_unless_broken)
    return broken


@pytest.mark.parametrize("fails", ["at-once", "later"])
async def test_a_stream_whose_store_fails_says_so_and_closes(
    jp_fetch, jp_ws_fetch, jp_serverapp, caplog, make_event, monkeypatch, fails
):
    """A store error in the stream's task ended the task without a word and left the socket
    open: a live dashboard believed it was connected, and received nothing for ever."""
    broken = break_queries(jp_serverapp.web_app.settings["learnpulse_store"], monkeypatch)
    await post_events(jp_fetch, [make_event()])
    if fails == "at-once":
        broken.set()  # the newest stored event, after which the stream starts, cannot be read
    params = {"after": "0"} if fails == "later" else {}
    ws = await jp_ws_fetch(
        "learnpulse", "api", "events", "stream", params=params, headers=as_user("teacher")
    )
    if fails == "later":
        assert len((await next_message(ws))["events"]) == 1
        broken.set()
        await post_events(jp_fetch, [make_event(offset_s=1)])  # wakes the stream: it fails
    reply = await next_message(ws)
    assert reply == {
        "type": "error",
        "message": "internal error (OperationalError); see the server log",
    }
    assert await asyncio.wait_for(ws.read_message(), timeout=5) is None  # then it closes
    assert ws.close_code == 1011
    assert await eventually(lambda: not running_tasks("EventStreamHandler."))
    (logged,) = [r for r in caplog.records if r.levelname == "ERROR"]
    assert "events/stream" in logged.getMessage()
    assert isinstance(logged.exc_info[1], OperationalError)  # with its traceback


async def test_the_dashboard_client_backs_off_from_a_stream_that_fails(
    jp_serverapp, jp_http_port, jp_base_url, jp_fetch, make_event, monkeypatch
):
    """The live dashboard's stream thread took the error message for news, and as the socket
    it had opened closed, reconnected at the shortest delay for ever: a broken store was
    asked again every 2 s and the dashboard redrew each time."""
    from learnpulse.viz import http
    from learnpulse.viz.connection import ServerInfo
    from learnpulse_server.handlers import events as module

    monkeypatch.setattr(http, "STREAM_RETRY_S", 0.1)
    monkeypatch.setattr(http, "STREAM_RETRY_MAX_S", 0.4)
    opened, streams = [], []  # when the server opened each events/stream socket, and its handler
    open_stream = module.EventStreamHandler.open

    async def note_and_open(handler, *args, **kwargs):
        opened.append(time.monotonic())
        streams.append(handler)
        await open_stream(handler, *args, **kwargs)

    monkeypatch.setattr(module.EventStreamHandler, "open", note_and_open)
    broken = break_queries(jp_serverapp.web_app.settings["learnpulse_store"], monkeypatch)
    broken.set()
    server = ServerInfo(f"http://127.0.0.1:{jp_http_port}{jp_base_url}", "token-teacher", "test")
    source = http.HttpSource(server, live=True)
    stream_url = server.api_url.replace("http", "ws", 1) + "events/stream"
    try:
        assert await eventually(lambda: len(opened) >= 5, timeout=30)
        gaps = [later - earlier for earlier, later in itertools.pairwise(opened[:5])]
        waits = [0.2, 0.4, 0.4, 0.4]  # doubled after each attempt the server ended, up to max
        assert all(gap >= wait for gap, wait in zip(gaps, waits, strict=True)), gaps
        broken.clear()  # the store is back: the stream reconnects and carries events again

        def streaming() -> bool:  # connected, and the server has read where to start
            return stream_url in source._open and streams[-1]._filters["after_seq"] is not None

        assert await eventually(streaming, timeout=30)
        received = source._received
        await post_events(jp_fetch, [make_event()])
        assert await eventually(lambda: source._received > received)
    finally:
        await asyncio.to_thread(source.close)  # it waits for the server's answer to its close
