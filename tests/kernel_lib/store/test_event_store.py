"""EventStore on SQLite and PostgreSQL: appends, queries, tables, erasure, export."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import polars as pl
import pytest

from learnpulse.datasets import CourseData
from learnpulse.events import EventValidationError, events_to_frame, validate_events
from learnpulse.store import EventStore, migrate


def _batch(make_event, n, **fields):
    return [
        make_event(
            offset_s=i,
            learner_id=f"learner-{i % 3}",
            item_id=f"ex-{i % 4}",
            correct=i % 2 == 0,
            **fields,
        )
        for i in range(n)
    ]


def test_append_then_query_returns_the_same_events(store, make_event):
    batch = _batch(make_event, 20, payload={"answer": "42", "nested": {"x": [1, 2]}})
    result = store.append(batch)
    assert (result.received, result.inserted, result.duplicates) == (20, 20, 0)
    frame = store.query()
    assert frame.height == 20
    expected = events_to_frame(validate_events(batch)).sort("ts")
    assert frame.drop("payload").equals(expected.drop("payload"))
    decode = lambda texts: [json.loads(t) for t in texts]  # noqa: E731
    assert decode(frame["payload"]) == decode(expected["payload"])


def test_append_is_idempotent_on_event_id(store, make_event):
    batch = _batch(make_event, 10)
    store.append(batch)
    again = store.append([*batch[:5], make_event(offset_s=100)])
    assert (again.inserted, again.duplicates) == (1, 5)
    assert store.counts()["events"] == 11


def test_an_event_id_in_upper_case_is_the_same_event(store, make_event):
    # one UUID in two spellings was stored twice, on both paths in
    event = make_event()
    store.append([event])
    again = store.append([{**event, "id": event["id"].upper()}])
    assert (again.inserted, again.duplicates) == (0, 1)
    frame = store.query().with_columns(pl.col("id").str.to_uppercase())
    assert store.append(frame).duplicates == 1
    assert store.query()["id"].to_list() == [event["id"].lower()]


def test_a_batch_with_one_bad_event_writes_nothing(store, make_event):
    batch = _batch(make_event, 10)
    batch[7]["correct"] = "yes"
    with pytest.raises(EventValidationError) as info:
        store.append(batch)
    assert [(e.index, e.field) for e in info.value.errors] == [(7, "correct")]
    assert store.counts()["events"] == 0
    assert store.counts()["learners"] == 0


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("item_id", "ex\x00"),  # SQLite stored it, PostgreSQL failed the transaction
        ("learner_id", "learner-\ud800"),  # no UTF-8 form: both drivers failed
        ("score", 10**400),  # beyond a float column: both failed
    ],
)
def test_text_and_numbers_a_store_cannot_hold_are_refused_alike(store, make_event, field, value):
    batch = _batch(make_event, 3)
    batch[1][field] = value
    with pytest.raises(EventValidationError) as info:
        store.append(batch)
    assert [(e.index, e.field) for e in info.value.errors] == [(1, field)]
    assert store.counts()["events"] == 0


def test_batches_appended_together_are_answered_one_by_one(store, make_event):
    first, second, third = _batch(make_event, 4), _batch(make_event, 3), _batch(make_event, 2)
    second[1]["kind"] = "telepathy"
    outcomes = store.append_batches([first, second, [*third, first[0]]])
    assert [(o.received, o.inserted) for o in (outcomes[0], outcomes[2])] == [(4, 4), (3, 2)]
    assert isinstance(outcomes[1], EventValidationError)
    assert [(e.index, e.field) for e in outcomes[1].errors] == [(1, "kind")]
    stored = set(store.query()["id"])
    assert stored == {e["id"] for e in first + third}  # nothing of the refused batch


def test_a_bad_frame_writes_nothing(store, make_event):
    frame = events_to_frame(validate_events(_batch(make_event, 6)))
    frame = frame.with_columns(
        pl.when(pl.int_range(pl.len()) == 4)
        .then(pl.lit(float("nan")))
        .otherwise(pl.col("score"))
        .alias("score")
    )
    with pytest.raises(EventValidationError, match="event 4: field 'score'"):
        store.append(frame)
    assert store.counts()["events"] == 0


def test_query_filters(store, make_event):
    store.append(_batch(make_event, 12))
    store.append([make_event(course_id="course-b", kind="hint", item_id="ex-9", offset_s=50)])
    assert store.query(course="course-b").height == 1
    assert set(store.query(learners=["learner-0", "learner-2"])["learner_id"]) == {
        "learner-0",
        "learner-2",
    }
    assert store.query(kinds="hint")["kind"].to_list() == ["hint"]
    assert store.query(items="ex-1").height == 3
    since = datetime(2024, 9, 2, 9, 0, 5, tzinfo=timezone.utc)
    until = datetime(2024, 9, 2, 9, 0, 8, tzinfo=timezone.utc)
    window = store.query(since=since, until=until)
    assert window["ts"].to_list() == [since.replace(second=s) for s in (5, 6, 7)]
    page = store.query(order="seq", limit=5, with_seq=True)
    rest = store.query(order="seq", after_seq=page["seq"][-1], with_seq=True)
    assert page.height + rest.height == 13
    assert rest["seq"].min() > page["seq"].max()
    with pytest.raises(ValueError, match="timezone"):
        store.query(since=datetime(2024, 1, 1))


def test_query_paging_bounds_answer_alike_on_both_backends(store, make_event):
    store.append(_batch(make_event, 3))
    assert store.query(after_seq=2**63).height == 0  # OverflowError on SQLite
    assert store.query(after_seq=-(2**70)).height == 3
    assert store.query(limit=0).height == 0
    # -1 was "no limit" on SQLite and a connectorx error on PostgreSQL
    with pytest.raises(ValueError, match="limit must be 0 or more, not -1"):
        store.query(limit=-1)


def test_query_filters_match_values_with_sql_and_format_characters(store, make_event):
    # PostgreSQL is read through connectorx, whose SQL had every "%" doubled (no match)
    values = ["100%", "a%%b", "%(x)s", "o'brien", "back\\slash", ":name", "?", "x' OR '1'='1"]
    store.append(
        [make_event(learner_id=v, course_id=v, item_id=v, offset_s=i) for i, v in enumerate(values)]
    )
    for value in values:
        for filters in ({"learners": value}, {"course": value}, {"items": [value]}):
            assert store.query(**filters)["learner_id"].to_list() == [value], filters


def test_query_of_nothing_has_the_event_columns(store):
    frame = store.query(course="nobody")
    assert frame.is_empty()
    assert frame.schema["ts"] == pl.Datetime("us", "UTC")
    assert frame.schema["skills"] == pl.List(pl.String)


def test_learners_and_items_tables_follow_the_events(store, make_event):
    store.append(_batch(make_event, 8, difficulty=0.25))
    learners = store.learners("course-a")
    assert learners["learner_id"].to_list() == ["learner-0", "learner-1", "learner-2"]
    first = learners.filter(pl.col("learner_id") == "learner-1")["first_seen"][0]
    assert first == datetime(2024, 9, 2, 9, 0, 1, tzinfo=timezone.utc)
    items = store.items("course-a")
    assert items["item_id"].to_list() == ["ex-0", "ex-1", "ex-2", "ex-3"]
    assert items["skills"].to_list() == [["loops"]] * 4
    assert items["difficulty"].to_list() == [0.25] * 4


def test_append_course_stores_metadata_and_upserts(store, make_event):
    events = events_to_frame(validate_events(_batch(make_event, 4)))
    learners = pl.DataFrame(
        {"course_id": ["course-a"], "learner_id": ["learner-0"], "attributes": ['{"ability": 0.3}']}
    )
    skills = pl.DataFrame(
        {
            "course_id": ["course-a"] * 2,
            "skill_id": ["vars", "loops"],
            "name": ["Variables", "Loops"],
            "prerequisites": [[], ["vars"]],
        }
    )
    data = CourseData(events=events, learners=learners, skills=skills)
    assert store.append_course(data).inserted == 4
    assert store.append_course(data).inserted == 0
    assert (
        store.learners("course-a").filter(pl.col("learner_id") == "learner-0")["attributes"][0]
        == '{"ability": 0.3}'
    )
    assert store.skills("course-a").sort("skill_id")["prerequisites"].to_list() == [["vars"], []]
    store.upsert_learners(learners.with_columns(pl.lit('{"ability": 0.9}').alias("attributes")))
    assert "0.9" in store.learners("course-a")["attributes"][0]
    loaded = store.load_course("course-a")
    assert loaded.summary()["events"] == 4 and loaded.summary()["skills"] == 2


def test_first_seen_is_the_earliest_event_whatever_the_order_of_arrival(store, make_event):
    def first_seen(learner):
        learners = store.learners("course-a")
        return learners.filter(pl.col("learner_id") == learner)["first_seen"][0]

    store.append([make_event(learner_id="late", offset_s=60)])
    store.append([make_event(learner_id="late", offset_s=10)])  # e.g. delivered from a spool
    store.append([make_event(learner_id="late", offset_s=30)])
    assert first_seen("late") == datetime(2024, 9, 2, 9, 0, 10, tzinfo=timezone.utc)
    # An import names its learners before their events (it left first_seen empty).
    events = events_to_frame(validate_events([make_event(learner_id="imported", offset_s=5)]))
    learners = pl.DataFrame(
        {"course_id": ["course-a"], "learner_id": ["imported"], "attributes": ["{}"]}
    )
    store.append_course(CourseData(events=events, learners=learners))
    assert first_seen("imported") == datetime(2024, 9, 2, 9, 0, 5, tzinfo=timezone.utc)


def test_forget_erases_one_learner_only(store, make_event):
    store.append(_batch(make_event, 9))
    store.append([make_event(learner_id="learner-1", course_id="course-b")])
    deleted = store.forget("learner-1", course="course-a")
    assert deleted == {"events": 3, "learners": 1, "training_runs": 0, "training_metrics": 0}
    assert store.query(learners="learner-1")["course_id"].to_list() == ["course-b"]
    assert store.forget("learner-1")["events"] == 1
    assert store.query(learners="learner-1").is_empty()
    assert store.counts()["events"] == 6


def test_courses_and_status(store, make_event):
    store.append(_batch(make_event, 5))
    courses = store.courses()
    assert courses.row(0, named=True)["learners"] == 3
    assert courses.row(0, named=True)["events"] == 5
    status = store.status()
    assert status["schema_revision"] == migrate.head_revision()
    assert status["counts"]["events"] == 5
    assert "password" not in status["url"]


def test_known_courses_come_from_learners_and_course_descriptions(store, make_event):
    """The dashboard's course list: each course with events, by its learners, and a course
    whose skills or exercises are stored before its first event, with none."""
    store.append(_batch(make_event, 5, course_id="course-b"))
    store.append(_batch(make_event, 2, course_id="course-a"))
    skills = pl.DataFrame({"course_id": ["course-new"], "skill_id": ["s1"], "name": ["S"]})
    store.append_course(CourseData(skills=skills.with_columns(prerequisites=pl.lit([]))))
    known = store.known_courses()
    assert known.to_dicts() == [
        {"course_id": "course-a", "learners": 2},
        {"course_id": "course-b", "learners": 3},
        {"course_id": "course-new", "learners": 0},
    ]
    store.forget("learner-1", course="course-a")
    assert store.known_courses()["learners"].to_list() == [1, 3, 0]


def test_export_parquet_round_trips(store, make_event, tmp_path):
    store.append(_batch(make_event, 7))
    path = tmp_path / "out" / "events.parquet"
    assert store.export_parquet(path, learners="learner-0") == 3
    back = pl.read_parquet(path)
    assert back.equals(store.query(learners="learner-0"))
    assert not list(path.parent.glob(".partial-*"))


def test_reopening_keeps_data(store_url, make_event):
    with EventStore(store_url) as first:
        first.append([make_event()])
    with EventStore(store_url) as second:
        assert second.counts()["events"] == 1
        assert second.status()["schema_revision"] == migrate.head_revision()


def test_forget_also_erases_the_learners_training_runs(store):
    from datetime import datetime, timezone

    started = datetime(2024, 9, 2, 9, tzinfo=timezone.utc)
    for run_id, learner in (("run-a", "learner-1"), ("run-b", "learner-2")):
        store.save_training_run(
            {"run_id": run_id, "name": "mlp", "learner_id": learner, "course_id": "course-a",
             "started": started, "status": "finished"}
        )  # fmt: skip
        store.append_training_metrics(run_id, [{"seq": 0, "ts": started, "loss": 1.0}])
    deleted = store.forget("learner-1")
    assert deleted["training_runs"] == 1 and deleted["training_metrics"] == 1
    assert store.training_runs()["learner_id"].to_list() == ["learner-2"]


def test_a_stores_own_url_opens_the_same_store(store, make_event):
    """``EventStore(store.url)`` was a TypeError: the URL is SQLAlchemy's, not a string (the
    PostgreSQL password is kept, not masked as in its text)."""
    store.append([make_event(learner_id="ada")])
    with EventStore(store.url) as again:
        assert again.url == store.url
        assert again.query(learners="ada").height == 1
