"""The student dashboard shows one learner's own numbers, trends and plan."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import polars as pl
import pytest

from learnpulse.course import demo_course
from learnpulse.events import events_to_frame, validate_events
from learnpulse.viz import charts
from learnpulse.viz.learner import difficulty_performance, topic_performance, weekly_performance
from learnpulse.viz.sources import DirectSource
from learnpulse.viz.student import StudentDashboard, percentiles, study_plan


@pytest.fixture(scope="module")
def learner(outputs):
    active = outputs["score"].sort("n_attempts", descending=True)
    return active["learner_id"][0]


def test_cards_charts_and_plan_are_the_learners_own(source, outputs, learner):
    dashboard = StudentDashboard(source, learner_id=learner)
    cards = dashboard.cards.kpis
    assert cards["value"].null_count() == 0
    score = outputs["score"].filter(outputs["score"]["learner_id"] == learner)["value"][0]
    assert cards["value"][0] == pytest.approx(score)
    for panel in (dashboard.accuracy, dashboard.speed, dashboard.topics, dashboard.difficulty,
                  dashboard.percentile):  # fmt: skip
        assert not charts.is_empty(panel.element), panel.title
    plan = dashboard.plan.table
    mine = outputs["recommendations"].filter(outputs["recommendations"]["learner_id"] == learner)
    assert plan.height == mine.height > 0


def test_percentiles_and_plan_of_someone_else_are_not_mixed_in(outputs, learner):
    other = outputs["peers"].filter(outputs["peers"]["learner_id"] != learner)["learner_id"][0]
    assert percentiles(outputs, learner).height == 4
    theirs = study_plan(outputs, other)
    assert theirs.height == (outputs["recommendations"]["learner_id"] == other).sum()


def test_a_student_dashboard_needs_a_learner(source):
    with pytest.raises(ValueError, match="learner_id"):
        StudentDashboard(source)


def test_a_learner_id_that_is_markup_is_shown_as_text(source, markup_id, rendered):
    header = StudentDashboard(source, learner_id=markup_id)._layout[0]
    shown = rendered(header)
    assert "img" not in shown.tags and markup_id in shown.text


def _shown_skills(dashboard) -> set[str]:
    plan = dashboard.plan.table["skill"].drop_nulls()
    return set(dashboard.topics.frame["skill"]) | set(plan)


def test_topics_and_plan_name_skills_as_the_course_does(source, learner, course):
    """The per-topic chart and the study plan showed skill ids ("tuples_sets") to students."""
    names = dict(course.skills.select("skill_id", "name").iter_rows())
    shown = _shown_skills(StudentDashboard(source, learner_id=learner))
    assert shown and shown <= set(names.values())


def test_without_the_courses_tables_the_skills_are_named_from_the_kernels_course(
    course, fitted, learner, monkeypatch
):
    """A student's source cannot read the course overview (instructors only): the names come
    from the course the student's widgets use, when it is the course shown."""
    monkeypatch.delenv("LEARNPULSE_COURSE_FILE", raising=False)  # the demo course
    bare = DirectSource(course.events, fitted=fitted)
    names = {s.id: s.name for s in demo_course().skills.values()}
    assert bare.skill_names() == names
    assert _shown_skills(StudentDashboard(bare, learner_id=learner)) <= set(names.values())
    other = DirectSource(course.events.with_columns(course_id=pl.lit("another")), fitted=fitted)
    assert other.skill_names() == {}  # not the kernel's course: ids, never wrong names


def test_accuracy_charts_count_each_exercise_until_it_is_solved():
    """ex-1 wrong, then right 19 times: 95% accuracy that week before; the repeats of the
    solved exercise (and their quick times) are practice, still counted as attempts."""
    monday = datetime(2024, 9, 2, tzinfo=timezone.utc)
    records = [
        {
            "id": f"00000000-0000-4000-8000-{n:012d}",
            "ts": monday + timedelta(minutes=n),
            "learner_id": "ada",
            "course_id": "c",
            "kind": "attempt",
            "item_id": "ex-1",
            "skills": ["lists"],
            "correct": n > 0,
            "duration_ms": 60_000 if n < 2 else 1_000,
            "difficulty": 0.2,
        }
        for n in range(20)
    ]
    events = events_to_frame(validate_events(records))
    week = weekly_performance(events).row(0, named=True)
    assert (week["attempts"], week["accuracy"], week["seconds"]) == (20, 50.0, 60.0)
    assert topic_performance(events).rows() == [("lists", 20, 50.0)]
    assert difficulty_performance(events).rows() == [("easy (< 0.33)", 20, 50.0)]
