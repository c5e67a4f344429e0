"""The HTTP data source against a real server: same numbers as in-process, a student sees
only themself, the event stream moves the version."""

from __future__ import annotations

import time
import uuid
from datetime import datetime, timedelta

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from learnpulse.viz.connection import ServerInfo
from learnpulse.viz.http import ApiError, HttpSource
from learnpulse.viz.sources import DirectSource
from tests.browser.servers import COURSE, STUDENT, STUDENT_TOKEN, TEACHER_TOKEN

pytestmark = pytest.mark.slow


def _source(server, token: str, live: bool = False) -> HttpSource:
    return HttpSource(ServerInfo(server.url, token, "test"), live=live)


def test_the_summary_through_the_api_is_the_one_computed_in_process(jupyter_server):
    from learnpulse.store import EventStore

    there = _source(jupyter_server, TEACHER_TOKEN).summary("month")
    with EventStore(jupyter_server.db_url) as store:
        here = DirectSource(store=store, course=COURSE).summary("month")
    for key in ("daily", "topics", "tutor_agents", "hint_levels"):
        assert_frame_equal(there[key], here[key], check_dtypes=False)
    kpis = there["kpis"].filter(pl.col("kpi") != "at_risk")
    assert_frame_equal(kpis, here["kpis"].filter(pl.col("kpi") != "at_risk"), check_dtypes=False)


def test_a_student_sees_only_themself(jupyter_server):
    student = _source(jupyter_server, STUDENT_TOKEN)
    assert student.user() == STUDENT
    mine = student.predictions(learner=STUDENT)
    assert mine["score"]["learner_id"].to_list() == [STUDENT]
    events = student.learner_events(STUDENT)
    assert events.height > 0 and set(events["learner_id"]) == {STUDENT}
    with pytest.raises(ApiError, match="403"):
        student.predictions(learner="learner-00001")
    with pytest.raises(ApiError, match="403"):
        student.summary("week")  # the course overview is for instructors


def test_the_course_predictions_hold_every_learner_and_a_bounded_mastery(jupyter_server):
    outputs = _source(jupyter_server, TEACHER_TOKEN).predictions()
    learners = outputs["peers"]["learner_id"].n_unique()
    assert outputs["retention_risk"].height == outputs["score"].height >= learners > 100
    shown = outputs["mastery"]["learner_id"].n_unique()
    assert 0 < shown < learners  # only the learners the heatmap can show


def test_a_learner_in_two_courses_is_shown_in_the_dashboards_course_only(jupyter_server):
    source = _source(jupyter_server, TEACHER_TOKEN)  # no course named: the server's first
    summary = source.summary("week")  # what the dashboard reads first
    elsewhere = {
        "id": str(uuid.uuid4()), "ts": "2020-01-06T10:00:00+00:00", "learner_id": STUDENT,
        "course_id": "zz-another-course", "kind": "attempt", "item_id": "q1", "correct": False,
    }  # fmt: skip
    assert jupyter_server.api("events", {"events": [elsewhere]})["stored"] == 1
    # The drill-down's events (its event count, accuracy per week) were of every course.
    assert set(source.learner_events(STUDENT)["course_id"]) == {COURSE}
    assert summary["course"] == COURSE  # named on the dashboard


def test_a_stored_event_moves_the_version(jupyter_server):
    source = _source(jupyter_server, TEACHER_TOKEN, live=True)
    try:
        time.sleep(2)  # let the streams connect
        before = source.version()
        end = datetime.fromisoformat(
            jupyter_server.api("analytics/dashboard?range=week")["period"]["end"]
        )
        event = {
            "id": str(uuid.uuid4()), "ts": (end - timedelta(hours=1)).isoformat(),
            "learner_id": STUDENT, "course_id": COURSE, "session_id": "http-source-test",
            "kind": "session_start",
        }  # fmt: skip
        jupyter_server.api("events", {"events": [event]})
        deadline = time.monotonic() + 30
        while source.version() == before and time.monotonic() < deadline:
            time.sleep(0.2)
        assert source.version() > before
    finally:
        source.close()
