"""The accuracy a student sees in their notebook is the accuracy their instructor sees.

A student retries, repeats solved exercises (one of them 18 times) and opens every hint; the
events go to the store of a real Jupyter server. The score's accuracy, its attempt count, the
readiness's recent accuracy (``analytics/predictive``), the dashboard's accuracy
(``analytics/dashboard``) and the feature frame's accuracy must all be the student session's:
the attempts until each exercise is solved, a right answer after the whole hint ladder
counted wrong; so must the recommender's difficulty advice. Before, every repeat counted on
both sides: the server had 27 of 30 answers right (90%; readiness: "last 20 attempts 100%
correct"; the recommender: "10 of the last 10 attempts correct (100%): harder items") and the
progress widget "22 correct answers in a row", while mastery rested on 7 answers, 4 of them
right.
"""

from __future__ import annotations

import pytest

from learnpulse.course import demo_course
from learnpulse.features import learner_features
from learnpulse.models.recommendations import recommend
from learnpulse.store import EventStore
from learnpulse.widgets import ExerciseWidget, LearnerSession
from tests.extension import test_analytics, test_mastery_agreement
from tests.kernel_lib.widgets.helpers import tracking_into

models_dir = test_analytics.models_dir  # the fixtures: course models the server reads
jp_server_config = test_analytics.jp_server_config
REPEATS = 18
COURSE = demo_course()


def practise(session: LearnerSession) -> None:
    """The mastery test's study session, then a solved exercise answered again and again."""
    test_mastery_agreement.study(session)
    lists = ExerciseWidget("ex-lists-03", session=session)
    lists.submit(3)  # a new exercise, right
    for _ in range(REPEATS):
        lists.submit(3)


async def test_the_instructor_sees_the_accuracy_the_student_sees(
    jp_fetch, lp_db_url, tmp_path, monkeypatch
):
    with tracking_into(lp_db_url, tmp_path, monkeypatch) as tracked:
        practise(tracked.session)
        events = tracked.events()  # delivered to the server's store
        student = tracked.session
    # wrong, right (ex-lists-01); wrong, right (ex-lists-02); right after every hint,
    # counted wrong (ex-loops-04); right after one hint (ex-loops-03); right (ex-lists-03)
    assert (student.counted_answers, student.counted_right) == (7, 4)
    assert events.filter(kind="attempt").height == 11 + 1 + REPEATS

    body = await test_analytics.get(jp_fetch, "predictive", "ada", type="all", wait="true", limit=1)
    predictions = body["predictions"]
    score = predictions["score"][0]
    assert score["accuracy"] == pytest.approx(100 * student.accuracy)
    assert score["n_attempts"] == student.counted_answers
    # the recommender's level: from the same counted attempts on both sides
    level = next(r for r in predictions["recommendations"] if r["kind"] == "difficulty")
    mine = recommend(
        student.mastery_frame(),
        COURSE.items_frame(),
        COURSE.skills_frame(),
        student.graded_frame(),
        learner="ada",
    ).filter(kind="difficulty")
    assert (level["action"], level["reason"]) == (mine["action"][0], mine["reason"][0])
    assert level["reason"].startswith("4 of the last 7 counted attempts correct (57%): easier")
    readiness = predictions["readiness"][0]
    assert readiness["recent_accuracy"] == pytest.approx(student.accuracy)
    assert "last 7 counted attempts 57% correct" in readiness["reason"]
    # ex-loops-03 then ex-lists-03 right; their repeats neither extend nor break the run
    assert student.correct_in_a_row == 2

    dashboard = await test_analytics.get(jp_fetch, "dashboard", range="course", wait="true")
    kpis = {row["kpi"]: row["value"] for row in dashboard["kpis"]}
    assert kpis["accuracy"] == pytest.approx(student.accuracy)
    days = [row for row in dashboard["daily"] if row["attempts"]]
    assert sum(row["attempts"] for row in days) == events.filter(kind="attempt").height

    with EventStore(lp_db_url) as store:
        features = learner_features(store.query(learners="ada"))
    assert features["accuracy"][0] == pytest.approx(student.accuracy)
