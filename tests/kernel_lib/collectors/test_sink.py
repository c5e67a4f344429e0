"""learnpulse.track and the background sink: validation, identity, spooling, no loss, no dups."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

import learnpulse
from learnpulse.collectors import EventSink, SinkConfig, StoreDestination, configure
from learnpulse.events import EventValidationError
from learnpulse.store import EventStore

FAST = SinkConfig(gather_s=0.02, retry_s=0.1, exit_timeout_s=5.0)


@pytest.fixture
def sink(tmp_path):
    sink = configure(store_url=f"sqlite:///{tmp_path / 'events.db'}", spool_dir=tmp_path / "spool")
    yield sink
    sink.close()


def _stored(url: str) -> list[str]:
    with EventStore(url) as store:
        return store.query()["id"].to_list()


def test_track_fills_identity_from_the_environment(monkeypatch, sink, tmp_path):
    monkeypatch.setenv("JUPYTERHUB_USER", "hub-user")
    monkeypatch.setenv("LEARNPULSE_COURSE_ID", "course-x")
    monkeypatch.delenv("LEARNPULSE_LEARNER_ID", raising=False)
    first = learnpulse.track("attempt", item_id="loops-1", skills=["loops"], correct=True)
    monkeypatch.setenv("LEARNPULSE_LEARNER_ID", "learner-7")
    monkeypatch.delenv("LEARNPULSE_COURSE_ID")
    second = learnpulse.track("hint", item_id="loops-1", hints_used=1)
    assert (first["learner_id"], first["course_id"]) == ("hub-user", "course-x")
    assert (second["learner_id"], second["course_id"]) == ("learner-7", "demo-python-101")
    assert first["session_id"] == second["session_id"]
    assert first["id"] != second["id"]
    assert sink.flush(10)
    with EventStore(f"sqlite:///{tmp_path / 'events.db'}") as store:
        frame = store.query()
    assert sorted(frame["id"]) == sorted([first["id"], second["id"]])
    assert set(frame["kind"]) == {"attempt", "hint"}


def test_flush_waits_for_what_was_tracked_and_starts_no_sink(monkeypatch, sink, tmp_path):
    """The tutor flushes before it reads the learner's hints and checks: in a process that
    tracked nothing, that must not start a sink (a thread and a spool) of its own."""
    from learnpulse.collectors import tracking

    event = learnpulse.track("hint", item_id="loops-1", hints_used=1)
    assert tracking.flush(10) and event["id"] in _stored(f"sqlite:///{tmp_path / 'events.db'}")
    monkeypatch.setattr(tracking, "_sink", None)
    assert tracking.flush(0) and tracking._sink is None


@pytest.mark.parametrize(
    ("kind", "fields", "field"),
    [
        ("attempt", {"correct": True}, "item_id"),
        ("attempt", {"item_id": "x", "correct": "yes"}, "correct"),
        ("attempt", {"item_id": "x", "correct": True, "colour": 1}, "colour"),
        ("not-a-kind", {}, "kind"),
        ("cell_error", {"payload": {}}, "payload.error_type"),
    ],
)
def test_track_rejects_programmer_errors_naming_the_field(sink, kind, fields, field):
    before = sink.stats()["received"]
    with pytest.raises(EventValidationError) as info:
        learnpulse.track(kind, **fields)
    assert info.value.errors[0].field == field
    assert sink.stats()["received"] == before


def test_unreachable_store_spools_then_delivers_each_event_once(tmp_path, switchable_store):
    switchable_store.block()
    sink = EventSink(StoreDestination(switchable_store.url), tmp_path / "spool", FAST)
    events = [learnpulse.collectors.make_event("resource_view", item_id=f"r{i}") for i in range(30)]
    for event in events[:20]:
        sink.put(event)
    assert sink.flush(10)
    assert sink.stats()["pending_in_spool"] == 20
    assert list((tmp_path / "spool").glob("*.jsonl"))

    switchable_store.unblock()
    for event in events[20:]:
        sink.put(event)
    assert sink.flush(10, include_spool=True)
    sink.close()
    stored = _stored(switchable_store.url)
    assert sorted(stored) == sorted(e["id"] for e in events)
    assert not list((tmp_path / "spool").glob("*.jsonl"))


def test_events_left_at_exit_survive_in_the_spool_for_the_next_process(tmp_path, switchable_store):
    switchable_store.block()
    first = EventSink(StoreDestination(switchable_store.url), tmp_path / "spool", FAST)
    events = [learnpulse.collectors.make_event("resource_view", item_id="r") for _ in range(5)]
    for event in events:
        first.put(event)
    first.close(timeout=1)
    switchable_store.unblock()
    second = EventSink(StoreDestination(switchable_store.url), tmp_path / "spool", FAST)
    assert second.flush(10, include_spool=True)
    second.close()
    assert sorted(_stored(switchable_store.url)) == sorted(e["id"] for e in events)


def test_a_batch_claimed_by_a_dead_process_is_redelivered_without_duplicates(
    tmp_path, switchable_store
):
    switchable_store.unblock()
    events = [learnpulse.collectors.make_event("resource_view", item_id="r") for _ in range(4)]
    with EventStore(switchable_store.url) as store:
        store.append(events[:2])  # the dead process had stored these before it died
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        text=True,
        capture_output=True,
        check=True,
    )
    spool = tmp_path / "spool"
    spool.mkdir()
    claimed = spool / f"1-1-abc.jsonl.{int(dead.stdout)}.sending"
    claimed.write_text("".join(json.dumps(e) + "\n" for e in events))
    sink = EventSink(StoreDestination(switchable_store.url), spool, FAST)
    sink.put(learnpulse.collectors.make_event("resource_view", item_id="trigger"))
    assert sink.flush(10, include_spool=True)
    sink.close()
    stored = _stored(switchable_store.url)
    assert len(stored) == len(set(stored)) == 5
    assert set(e["id"] for e in events) <= set(stored)
    assert not list(spool.iterdir())


def test_events_wait_in_memory_while_neither_store_nor_spool_can_be_written(
    tmp_path, switchable_store
):
    switchable_store.block()
    spool = tmp_path / "spool"
    spool.write_text("a file where the spool folder should be")
    sink = EventSink(StoreDestination(switchable_store.url), spool, FAST)
    events = [learnpulse.collectors.make_event("resource_view", item_id="r") for _ in range(3)]
    for event in events:
        sink.put(event)
    assert not sink.flush(0.5)  # nowhere to put them yet: still held, not dropped
    spool.unlink()
    switchable_store.unblock()
    assert sink.flush(15, include_spool=True)
    sink.close()
    assert sorted(_stored(switchable_store.url)) == sorted(e["id"] for e in events)


def test_an_event_put_after_close_is_spooled_not_dropped(tmp_path, switchable_store):
    """E.g. the notebook's session_end at exit, after a sink made by configure() was closed
    first: it sat in a queue no writer read."""
    switchable_store.unblock()
    spool = tmp_path / "spool"
    closed = EventSink(StoreDestination(switchable_store.url), spool, FAST)
    closed.close()
    late = learnpulse.collectors.make_event("resource_view", item_id="late")
    closed.put(late)
    assert closed.flush(1)
    assert closed.stats()["pending_in_spool"] == 1
    second = EventSink(StoreDestination(switchable_store.url), spool, FAST)
    assert second.flush(10, include_spool=True)
    second.close()
    assert _stored(switchable_store.url) == [late["id"]]


def test_a_spool_file_cut_short_delivers_its_whole_lines_and_keeps_the_rest_aside(
    tmp_path, switchable_store
):
    """A file cut mid-line (a crash, a full disk, a hand edit) was set aside whole: its
    complete events were never delivered."""
    switchable_store.unblock()
    spool = tmp_path / "spool"
    spool.mkdir()
    events = [learnpulse.collectors.make_event("resource_view", item_id="r") for _ in range(3)]
    text = "".join(json.dumps(e) + "\n" for e in events)
    (spool / "1-1-abc.jsonl").write_text(text[:-30] + "\n\n[1, 2]\n")
    sink = EventSink(StoreDestination(switchable_store.url), spool, FAST)
    assert sink.flush(10, include_spool=True)
    sink.close()
    assert sorted(_stored(switchable_store.url)) == sorted(e["id"] for e in events[:2])
    (rejected,) = spool.glob("*.rejected")
    assert rejected.read_text().splitlines() == [json.dumps(events[2])[:-29], "[1, 2]"]
    assert not list(spool.glob("*.jsonl*"))


def test_a_foreign_file_named_like_a_claimed_batch_is_left_alone(tmp_path, switchable_store):
    """A stray ``notes.sending`` made EventSink() raise ValueError (no pid in its name): no
    sink, so track() raised and the notebook recorded nothing."""
    switchable_store.unblock()
    spool = tmp_path / "spool"
    spool.mkdir()
    for name in ("notes.sending", "x.jsonl.notapid.sending", "1-1-abc.jsonl.sending"):
        (spool / name).write_text("not ours\n")
    sink = EventSink(StoreDestination(switchable_store.url), spool, FAST)
    event = learnpulse.collectors.make_event("resource_view", item_id="r")
    sink.put(event)
    assert sink.flush(10, include_spool=True)
    sink.close()
    assert _stored(switchable_store.url) == [event["id"]]
    assert len(list(spool.glob("*.sending"))) == 3


def test_events_spooled_for_one_store_are_never_delivered_to_another(
    tmp_path, switchable_store, monkeypatch
):
    """Every process spooled into one folder and drained it into its own store: a kernel of
    one course's server (or a test's throwaway store) that could not reach its store had its
    events delivered by the next kernel of another server, to that server's store."""
    monkeypatch.setenv("LEARNPULSE_SPOOL_DIR", str(tmp_path / "spool"))
    switchable_store.block()
    unreachable = EventSink(StoreDestination(switchable_store.url), config=FAST)
    events = [learnpulse.collectors.make_event("resource_view", item_id="r") for _ in range(3)]
    for event in events:
        unreachable.put(event)
    unreachable.close(timeout=1)
    assert unreachable.stats()["spooled"] == 3
    other_url = f"sqlite:///{tmp_path / 'other.db'}"
    other = EventSink(StoreDestination(other_url), config=FAST)
    assert other.flush(10, include_spool=True)
    other.close()
    assert _stored(other_url) == []
    label = (unreachable.spool_dir / "destination.txt").read_text()
    assert unreachable.spool_dir.parent == tmp_path / "spool" and "db/events.db" in label
    switchable_store.unblock()
    owner = EventSink(StoreDestination(switchable_store.url), config=FAST)
    assert owner.flush(10, include_spool=True)
    owner.close()
    assert sorted(_stored(switchable_store.url)) == sorted(e["id"] for e in events)
