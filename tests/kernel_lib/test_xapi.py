"""learnpulse.xapi: events <-> xAPI statements, both ways, and statements from other tools."""

from __future__ import annotations

import hashlib
import json
import random
import uuid
from datetime import datetime, timedelta, timezone
from typing import Any

import polars as pl
import pytest

from learnpulse.events import (
    EVENT_KINDS,
    EventValidationError,
    events_to_frame,
    validate_event,
    validate_events,
)
from learnpulse.xapi import (
    ACCOUNT_HOME_PAGE,
    EXTENSION_BASE,
    KIND_VERBS,
    activity_id,
    events_to_statements,
    format_duration,
    from_xapi,
    parse_activity_id,
    parse_duration,
    statements_to_frame,
    to_xapi,
)

# Text that stresses the IRI encoding: separators, escapes, spaces, non-ASCII.
AWKWARD = ["a", "py-101", "x/y", "50%", "a b", "é漢字", "q?x=1#f", "items", "", "%2F", "::"]
PAYLOADS = {
    "tutor_message": lambda r: {"role": r.choice(["learner", "tutor"]), "text": "hi", "agent": "a"},
    "cell_error": lambda r: {"error_type": "NameError", "line": r.randint(1, 9)},
}
NEEDS = {  # fields a kind's schema requires
    "attempt": ("item_id", "correct"),
    "hint": ("item_id",),
    "explanation_viewed": ("item_id",),
    "resource_view": ("item_id",),
    "assessment_submitted": ("item_id",),
    "session_start": ("session_id",),
    "session_end": ("session_id",),
    "cell_error": ("payload",),
    "tutor_message": ("payload",),  # its payload narrowing makes the payload an object
}


def _maybe(rng: random.Random, value: Any, needed: bool = False) -> Any:
    return value if needed or rng.random() < 0.6 else None


def random_event(rng: random.Random, kind: str) -> dict[str, Any]:
    """A valid raw event of ``kind`` with a random subset of the optional fields."""
    need = NEEDS.get(kind, ())
    offset = timezone(timedelta(minutes=rng.choice([-300, 0, 60, 330])))
    ts = datetime(2024, 1, 1, tzinfo=timezone.utc) + timedelta(microseconds=rng.getrandbits(45))
    payload = PAYLOADS.get(kind, lambda r: {"n": r.random(), "tags": ["x", None], "o": {}})(rng)
    return {
        "id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
        "ts": ts.astimezone(offset).isoformat(),
        "learner_id": rng.choice(AWKWARD[:-4]) + str(rng.randint(0, 99)),
        "course_id": rng.choice(AWKWARD[:-3]) or "c",
        "kind": kind,
        "session_id": _maybe(rng, rng.choice(AWKWARD), "session_id" in need),
        "item_id": _maybe(rng, rng.choice(AWKWARD), "item_id" in need),
        "skills": _maybe(rng, rng.sample(AWKWARD[:7], rng.randint(0, 3))),
        "correct": _maybe(rng, rng.random() < 0.5, "correct" in need),
        "score": _maybe(rng, rng.choice([0.0, 100.0, rng.uniform(-5, 105)])),
        "duration_ms": _maybe(rng, rng.choice([0, 999, 1000, rng.randint(0, 10**9)])),
        "attempt": _maybe(rng, rng.randint(1, 20)),
        "hints_used": _maybe(rng, rng.randint(0, 5)),
        "confidence": _maybe(rng, rng.choice([0.0, 1.0, rng.random()])),
        "difficulty": _maybe(rng, rng.choice([0.0, 1.0, rng.random()])),
        "payload": _maybe(rng, payload, "payload" in need),
    }


@pytest.fixture(scope="module")
def events() -> list[dict[str, Any]]:
    """50 validated events of every kind."""
    rng = random.Random(20240901)
    return validate_events([random_event(rng, kind) for kind in EVENT_KINDS for _ in range(50)])


def test_round_trip_gives_back_every_event(events):
    for event in events:
        assert validate_event(from_xapi(to_xapi(event))) == event


def test_round_trip_survives_json_serialisation(events):
    text = json.dumps([to_xapi(e) for e in events])
    assert [validate_event(from_xapi(s)) for s in json.loads(text)] == events


def test_generated_events_cover_every_kind_and_field(events):
    assert {e["kind"] for e in events} == set(EVENT_KINDS)
    for field in ("item_id", "skills", "score", "duration_ms", "payload", "difficulty"):
        values = [e[field] for e in events]
        assert None in values and any(v is not None for v in values), field
    assert any(e["item_id"] == "" for e in events)  # the empty item id must survive too


def test_verbs_are_distinct_iris_with_the_agreed_vocabulary():
    verbs = [verb for verb, _ in KIND_VERBS.values()]
    assert set(KIND_VERBS) == set(EVENT_KINDS)
    assert len(set(verbs)) == len(verbs)
    assert all(v.startswith(("http://", "https://")) for v in verbs)
    assert KIND_VERBS["attempt"][0] == "http://adlnet.gov/expapi/verbs/answered"
    assert KIND_VERBS["session_start"][0] == "http://adlnet.gov/expapi/verbs/initialized"
    assert KIND_VERBS["session_end"][0] == "http://adlnet.gov/expapi/verbs/terminated"
    assert KIND_VERBS["registration"][0] == "http://adlnet.gov/expapi/verbs/registered"
    assert KIND_VERBS["resource_view"][0] == "http://id.tincanapi.com/verb/viewed"
    assert KIND_VERBS["assessment_submitted"][0] == "http://activitystrea.ms/schema/1.0/submit"
    assert KIND_VERBS["tutor_message"][0] == "http://adlnet.gov/expapi/verbs/asked"


def _full_event() -> dict[str, Any]:
    return validate_event(
        {
            "id": "123e4567-e89b-42d3-a456-426614174000",
            "ts": "2024-09-02T11:00:00.5+02:00",
            "learner_id": "learner-1",
            "course_id": "py 101",
            "session_id": "s-1",
            "kind": "attempt",
            "item_id": "loops/ex-1",
            "skills": ["loops"],
            "correct": True,
            "score": 1.0,
            "duration_ms": 1234,
            "attempt": 2,
            "hints_used": 1,
            "confidence": 0.75,
            "difficulty": 0.4,
            "payload": {"answer": "42"},
        }
    )


def test_statement_layout():
    statement = to_xapi(_full_event())
    ext = EXTENSION_BASE
    assert statement["id"] == "123e4567-e89b-42d3-a456-426614174000"
    assert statement["actor"] == {
        "objectType": "Agent",
        "account": {"homePage": ACCOUNT_HOME_PAGE, "name": "learner-1"},
    }
    assert statement["verb"]["display"] == {"en-US": "answered"}
    assert statement["timestamp"] == "2024-09-02T09:00:00.500000Z"
    assert statement["object"]["id"] == activity_id("py 101", "loops/ex-1")
    assert parse_activity_id(statement["object"]["id"]) == ("py 101", "loops/ex-1")
    assert statement["object"]["definition"]["extensions"] == {ext + "difficulty": 0.4}
    assert statement["result"] == {
        "success": True,
        "score": {"raw": 1.0},
        "duration": "PT1.234S",
        "extensions": {
            ext + "attempt": 2,
            ext + "hints_used": 1,
            ext + "confidence": 0.75,
            ext + "payload": {"answer": "42"},
        },
    }
    context = statement["context"]
    assert context["extensions"] == {
        ext + "course_id": "py 101",
        ext + "session_id": "s-1",
        ext + "skills": ["loops"],
    }
    assert context["contextActivities"]["parent"][0]["id"] == activity_id("py 101")


def test_event_without_item_targets_the_course_activity():
    event = validate_event(
        {"id": str(uuid.uuid4()), "ts": "2024-01-01T00:00:00Z", "learner_id": "l",
         "course_id": "c", "kind": "registration"}
    )  # fmt: skip
    statement = to_xapi(event)
    assert statement["object"]["id"] == activity_id("c")
    assert "result" not in statement
    assert from_xapi(statement)["item_id"] is None


@pytest.mark.parametrize(
    ("ms", "text"), [(1234, "PT1.234S"), (0, "PT0S"), (1000, "PT1S"), (61_001, "PT61.001S")]
)
def test_format_duration(ms, text):
    assert format_duration(ms) == text
    assert parse_duration(text) == ms


@pytest.mark.parametrize(
    ("text", "ms"),
    [
        ("P1DT2H3M4.5S", ((24 + 2) * 3600 + 3 * 60 + 4.5) * 1000),
        ("PT1M", 60_000),
        ("PT1H", 3_600_000),
        ("P1W", 7 * 86_400_000),
        ("P2D", 2 * 86_400_000),
        ("PT0.0005S", 0),
        ("PT1,25S", 1250),
        ("PT0.1S", 100),
    ],
)
def test_parse_duration_reads_any_days_to_seconds_form(text, ms):
    assert parse_duration(text) == ms


@pytest.mark.parametrize("text", ["P1Y", "P1M", "PT", "P", "1S", "PTS", "P1DT", "PT-1S", "abc"])
def test_parse_duration_rejects(text):
    with pytest.raises(ValueError, match="duration"):
        parse_duration(text)


def _foreign(**changes: Any) -> dict[str, Any]:
    """A statement as another tool (an LRS, a Moodle plugin) might write it."""
    statement = {
        "id": "6690e6c9-3ef0-4ed3-8b37-7f3964730bee",
        "actor": {"objectType": "Agent", "mbox": "mailto:ada@example.org", "name": "Ada"},
        "verb": {"id": "http://adlnet.gov/expapi/verbs/answered"},
        "object": {"id": "http://example.org/quiz/q1", "objectType": "Activity"},
        "result": {"success": False, "score": {"scaled": 0.5}},
        "context": {"contextActivities": {"parent": [{"id": "http://example.org/course/42"}]}},
        "timestamp": "2024-03-01T12:00:00.123+01:00",
    }
    statement.update(changes)
    return {k: v for k, v in statement.items() if v is not None}


def test_foreign_statement_is_read():
    event = validate_event(from_xapi(_foreign()))
    assert event["learner_id"] == hashlib.sha1(b"mailto:ada@example.org").hexdigest()
    assert event["course_id"] == "http://example.org/course/42"
    assert event["item_id"] == "http://example.org/quiz/q1"
    assert event["kind"] == "attempt"
    assert event["correct"] is False
    assert event["score"] == 0.5
    assert event["ts"] == datetime(2024, 3, 1, 11, 0, 0, 123000, tzinfo=timezone.utc)


def test_mbox_learner_id_is_pseudonymous_and_matches_mbox_sha1sum():
    from_mbox = from_xapi(_foreign())["learner_id"]
    sha1sum = hashlib.sha1(b"mailto:ada@example.org").hexdigest()
    from_sum = from_xapi(_foreign(actor={"mbox_sha1sum": sha1sum}))["learner_id"]
    assert from_mbox == from_sum
    assert "ada" not in from_mbox


def test_account_name_wins_over_mbox():
    actor = {"mbox": "mailto:a@b.c", "account": {"homePage": "https://lms", "name": "u7"}}
    assert from_xapi(_foreign(actor=actor))["learner_id"] == "u7"


@pytest.mark.parametrize("actor", [{"objectType": "Agent", "name": "no id"}, None, "x"])
def test_actor_without_account_or_mbox_is_rejected(actor):
    with pytest.raises(ValueError, match="actor"):
        from_xapi(_foreign(actor=actor))


@pytest.mark.parametrize(
    ("changes", "named"),
    [
        ({"actor": {"account": {"homePage": "https://lms", "name": [1]}}}, "actor.account.name"),
        ({"context": {"contextActivities": {"parent": 5}}}, "contextActivities.parent"),
        ({"context": {"contextActivities": {"parent": "x"}}}, "contextActivities.parent"),
        ({"context": {"contextActivities": {"parent": [{"id": 5}]}}}, "parent id"),
    ],
)
def test_odd_shapes_are_named_not_guessed(changes, named):
    # a list name became learner "[1]"; a number as parent failed with "'int' object is not
    # subscriptable"
    with pytest.raises(ValueError, match=f"{named}.* must be"):
        from_xapi(_foreign(**changes))


def test_unknown_verb_names_it_and_lists_the_known_ones():
    with pytest.raises(ValueError) as info:
        from_xapi(_foreign(verb={"id": "http://adlnet.gov/expapi/verbs/passed"}))
    message = str(info.value)
    assert "http://adlnet.gov/expapi/verbs/passed" in message
    assert all(verb in message for verb, _ in KIND_VERBS.values())


def test_course_comes_from_extension_then_parent_then_argument():
    ext = {"extensions": {EXTENSION_BASE + "course_id": "from-ext"}}
    with_ext = _foreign(context={**ext, **_foreign()["context"]})
    assert from_xapi(with_ext, course_id="arg")["course_id"] == "from-ext"
    assert from_xapi(_foreign(), course_id="arg")["course_id"] == "http://example.org/course/42"
    ours = _foreign(context={"contextActivities": {"parent": [{"id": activity_id("a/b")}]}})
    assert from_xapi(ours)["course_id"] == "a/b"
    assert from_xapi(_foreign(context=None), course_id="arg")["course_id"] == "arg"
    with pytest.raises(ValueError, match="course"):
        from_xapi(_foreign(context=None))


def test_object_equal_to_the_parent_has_no_item():
    parent = {"contextActivities": {"parent": [{"id": "http://example.org/course/42"}]}}
    statement = _foreign(
        verb={"id": KIND_VERBS["registration"][0]},
        object={"id": "http://example.org/course/42"},
        context=parent,
        result=None,
    )
    assert validate_event(from_xapi(statement))["item_id"] is None


def test_missing_statement_id_gets_a_deterministic_uuid5():
    first = from_xapi(_foreign(id=None))["id"]
    assert first == from_xapi(_foreign(id=None))["id"]
    assert uuid.UUID(first).version == 5
    other = from_xapi(_foreign(id=None, timestamp="2024-03-01T12:00:01Z"))["id"]
    assert other != first


def test_missing_timestamp_falls_back_to_stored_else_fails():
    stored = _foreign(timestamp=None, stored="2024-05-05T05:05:05Z")
    assert from_xapi(stored)["ts"] == datetime(2024, 5, 5, 5, 5, 5, tzinfo=timezone.utc)
    with pytest.raises(ValueError, match="timestamp"):
        from_xapi(_foreign(timestamp=None))
    with pytest.raises(ValueError, match="timezone"):
        from_xapi(_foreign(timestamp="2024-05-05T05:05:05"))


def test_frame_round_trip(events):
    frame = events_to_frame(events)
    statements = events_to_statements(frame)
    assert len(statements) == frame.height
    back = statements_to_frame(statements)
    assert back.drop("payload").equals(frame.drop("payload"))
    decoded = [None if p is None else json.loads(p) for p in back.get_column("payload")]
    assert decoded == [e["payload"] for e in events]


def test_statements_to_frame_reports_every_bad_statement_by_index():
    good = _foreign()
    no_correct = _foreign(result={"score": {"raw": 3}})
    bad_verb = _foreign(verb={"id": "urn:nope"})
    with pytest.raises(EventValidationError) as info:
        statements_to_frame([good, no_correct, good, bad_verb, 7])
    by_index = {e.index: e for e in info.value.errors}
    assert sorted(by_index) == [1, 3, 4]
    assert by_index[1].field == "correct"
    assert "urn:nope" in by_index[3].message
    assert "JSON object" in by_index[4].message


def test_statements_to_frame_uses_the_course_argument():
    frame = statements_to_frame([_foreign(context=None)], course_id="fallback")
    assert frame.get_column("course_id").to_list() == ["fallback"]
    assert frame.schema["ts"] == pl.Datetime("us", "UTC")
