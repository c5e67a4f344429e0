"""The mastery a student sees in their notebook is the mastery their instructor sees.

A student works through exercises with the widgets and ``%%check``-style attempts (retries,
repeats of solved exercises, the whole hint ladder, a kernel restart); the events go to the
store of a real Jupyter server, whose ``analytics/predictive?type=mastery`` (what the
dashboards show) must give every practised skill the P(known), counts and label of the
student's own session, with the same fitted model on both sides. Before, the session and the
models both counted every repeat of a right answer, and the instructor's view of a student
who had repeated one was as inflated as the student's.
"""

from __future__ import annotations

import pytest

from learnpulse.course import demo_course
from learnpulse.models.knowledge_tracing import BKT
from learnpulse.widgets import ExerciseWidget, LearnerSession
from tests.extension import test_analytics
from tests.kernel_lib.widgets.helpers import tracking_into

models_dir = test_analytics.models_dir  # the fixtures: course models the server reads
jp_server_config = test_analytics.jp_server_config
COURSE = demo_course()
LOOP_TOTAL = "def total(numbers):\n    r = 0\n    for n in numbers:\n        r += n\n    return r\n"
#: Both sides run the same float64 BKT steps on the same attempts in the same order (the
#: session one attempt at a time, the server vectorised over learners), and JSON carries
#: floats exactly: the only room for a difference is the order of operations, ~1e-16 a step.
TOLERANCE = 1e-12


def study(session: LearnerSession) -> None:
    """A session of a student who retries, repeats solved exercises and uses every hint."""
    lists = ExerciseWidget("ex-lists-01", session=session)
    for answer in (4, 3, 3, 3, 3):  # wrong, right, then three repeats
        lists.submit(answer)
    choice = ExerciseWidget("ex-lists-02", session=session)
    for answer in (2, 1, 2):  # wrong, right, a wrong answer to the solved exercise
        choice.submit(answer)
    total = ExerciseWidget("ex-loops-04", session=session)
    for _ in total.exercise.hints:
        total.hint()
    total.submit(LOOP_TOTAL)  # right after the whole ladder
    keyword = ExerciseWidget("ex-loops-03", session=session)
    keyword.hint()
    keyword.submit("break")  # right after one hint
    keyword.submit("break")


async def test_the_instructor_sees_the_mastery_the_student_sees(
    jp_fetch, models_dir, lp_db_url, tmp_path, monkeypatch
):
    fitted = BKT.load(models_dir / COURSE.id / "mastery.json")
    with tracking_into(lp_db_url, tmp_path, monkeypatch) as tracked:
        study(LearnerSession(learner_id="ada", store_url=lp_db_url, model=fitted))
        tracked.events()  # delivered to the server's store
        # the kernel restarts: the history is read back, and the repeats stay practice
        later = LearnerSession(learner_id="ada", store_url=lp_db_url, model=fitted)
        ExerciseWidget("ex-lists-01", session=later).submit(3)
        ExerciseWidget("ex-lists-03", session=later).submit(3)
        tracked.events()
        student = {r["skill"]: r for r in later.mastery_frame().iter_rows(named=True)}

    body = await test_analytics.get(
        jp_fetch, "predictive", "ada", type="mastery", wait="true", limit=1
    )
    instructor = {r["skill"]: r for r in body["predictions"]["mastery"]}
    practised = {skill for skill, row in student.items() if row["n_attempts"]}
    assert set(instructor) == practised == {"lists", "loops"}
    for skill in practised:
        mine, theirs = student[skill], instructor[skill]
        assert theirs["p_known"] == pytest.approx(mine["p_known"], abs=TOLERANCE), skill
        for column in ("n_attempts", "n_correct", "label", "mastered", "model"):
            assert theirs[column] == mine[column], (skill, column)
    # ex-lists-01 and -02 wrong then right, ex-lists-03 right, and ex-loops-04 (loops and
    # lists), right after every hint, counted wrong; ex-loops-03 right after one hint
    assert (student["lists"]["n_attempts"], student["lists"]["n_correct"]) == (6, 3)
    assert (student["loops"]["n_attempts"], student["loops"]["n_correct"]) == (2, 1)
