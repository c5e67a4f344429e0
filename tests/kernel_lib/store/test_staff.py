"""The staff (instructors): kept in the event log, left out of what the class views read."""

from __future__ import annotations

import pytest

from learnpulse.store import EventStore, migrate
from learnpulse.store.engine import make_engine, resolve_url
from learnpulse.viz.sources import DirectSource


def _class_and_teacher(make_event) -> list[dict]:
    return [
        make_event(learner_id=learner, offset_s=i)
        for i, learner in enumerate(("ada", "bob", "teacher", "ada"))
    ]


def test_staff_events_are_kept_but_left_out_of_the_class(store, make_event):
    store.append(_class_and_teacher(make_event))
    assert store.add_staff(["teacher", "teacher"]) == 1
    assert store.add_staff(["teacher"]) == 0  # already staff: nothing changes
    assert store.staff()[["user_id", "role"]].rows() == [("teacher", "instructor")]
    assert store.staff()["since"].dtype.time_zone == "UTC"
    assert store.query().height == 4  # their own history still reads them
    assert store.query(learners="teacher")["learner_id"].to_list() == ["teacher"]
    class_only = store.query(course="course-a", exclude_staff=True, with_seq=True)
    assert class_only["learner_id"].to_list() == ["ada", "bob", "ada"]
    assert store.learners("course-a", exclude_staff=True)["learner_id"].to_list() == [
        "ada",
        "bob",
    ]
    assert store.learners("course-a").height == 3
    assert store.courses()["learners"].to_list() == [2]
    assert store.known_courses().rows() == [("course-a", 2)]  # the dashboard's course list
    assert store.remove_staff(["teacher"]) == 1
    assert store.query(exclude_staff=True).height == 4


def test_the_learner_count_leaves_out_the_staff(store, make_event):
    """counts() (GET status, `learnpulse status`) counted the instructors among the learners:
    the demo said 1,005 learners where the course list and the class views said 1,004."""
    store.append(_class_and_teacher(make_event))
    assert (store.counts()["learners"], store.counts()["staff"]) == (3, 0)
    store.add_staff(["teacher", "dean"])  # the dean has no events: staff all the same
    counts = store.counts()
    assert counts["learners"] == 2 == store.known_courses()["learners"].sum()
    assert (counts["staff"], counts["events"], counts["courses"]) == (2, 4, 1)
    assert store.status()["counts"] == counts


def test_bad_staff_are_named(store):
    with pytest.raises(ValueError, match="role must be one of instructor, not 'dean'"):
        store.add_staff(["x"], role="dean")
    with pytest.raises(ValueError, match="non-blank string, not ' '"):
        store.add_staff(["ok", " "])
    assert store.staff().is_empty()


def test_a_0002_store_gets_the_staff_table_and_keeps_its_events(tmp_path, make_event):
    url = f"sqlite:///{tmp_path / 'old.db'}"
    engine = make_engine(resolve_url(url))
    migrate.upgrade(engine, "0002")
    engine.dispose()
    with EventStore(url, migrate_schema=False) as old:
        old.append([make_event()])
    with EventStore(url) as store:
        assert store.status()["schema_revision"] == migrate.head_revision()
        assert store.add_staff(["learner-1"]) == 1
        assert store.query().height == 1
        assert store.query(exclude_staff=True).is_empty()


def test_a_dashboard_reading_the_store_leaves_out_the_staff(store, make_event):
    store.append(_class_and_teacher(make_event))
    store.add_staff(["teacher"])
    source = DirectSource(store=store, course="course-a")
    assert set(source.events["learner_id"]) == {"ada", "bob"}
    store.append([make_event(learner_id="teacher", offset_s=9)])
    assert source.version() == 3
    assert set(source.events["learner_id"]) == {"ada", "bob"}
