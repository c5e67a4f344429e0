"""Accuracy and "correct in a row" count the attempts mastery counts, in the widgets on a real
SQLite store.

Before, every check counted: a student who answered ex-lists-01 wrong, then right, then right
18 more times had "20 correct answers in a row" on the progress widget and 95% accuracy on the
server, while mastery (already by the evidence rule) rested on two answers. Now a repeat of a
solved exercise is practice for accuracy and the streak too: it neither extends nor breaks the
run of right answers, a right answer after every hint breaks it, and the widget says which
answers its accuracy counts.
"""

from __future__ import annotations

import pytest

from learnpulse.course import demo_course
from learnpulse.widgets import ExerciseWidget, LearnerSession, ProgressWidget
from tests.kernel_lib.widgets import helpers
from tests.kernel_lib.widgets.helpers import TrackedStore

tracked_store = helpers.tracked_store  # the fixture
COURSE = demo_course()
LOOP_TOTAL = "def total(numbers):\n    r = 0\n    for n in numbers:\n        r += n\n    return r\n"


def test_repeats_of_a_solved_exercise_are_no_streak_and_no_accuracy(
    tracked_store: TrackedStore,
) -> None:
    progress = ProgressWidget(skills=["lists"])
    widget = ExerciseWidget("ex-lists-01")
    widget.submit(4)  # wrong
    for _ in range(19):  # right, then 18 repeats of the solved exercise
        widget.submit(3)
    session = tracked_store.session
    assert session.correct_in_a_row == 1
    assert (session.counted_answers, session.counted_right) == (2, 1)
    assert session.accuracy == pytest.approx(0.5)
    assert "1 correct answer in a row" in progress.streak.value
    assert "Accuracy 50%: 1 of 2 answers right" in progress.streak.value
    assert "Accuracy 50%: 1 of 2 answers right" in progress.as_text()
    # every check is still recorded: practice is activity
    assert tracked_store.events("attempt").height == 20


def test_practice_neither_extends_nor_breaks_a_run_the_whole_ladder_breaks_it(
    tracked_store: TrackedStore,
) -> None:
    session = tracked_store.session
    ExerciseWidget("ex-lists-01").submit(3)
    ExerciseWidget("ex-lists-02").submit(1)
    assert session.correct_in_a_row == 2
    ExerciseWidget("ex-lists-01").submit(4)  # a wrong answer to a solved exercise: practice
    assert session.correct_in_a_row == 2
    total = ExerciseWidget("ex-loops-04")
    for _ in total.exercise.hints:
        total.hint()
    total.submit(LOOP_TOTAL)  # right after the whole ladder: counts as wrong
    assert total.correct and session.correct_in_a_row == 0
    assert (session.counted_answers, session.counted_right) == (3, 2)


def test_a_kernel_restart_reads_the_same_streak_and_accuracy_back(
    tracked_store: TrackedStore,
) -> None:
    widget = ExerciseWidget("ex-lists-01")
    for answer in (4, 3, 3, 3):
        widget.submit(answer)
    tracked_store.events()  # delivered
    later = LearnerSession(learner_id="ada", store_url=tracked_store.url)
    later.load_history()
    session = tracked_store.session
    assert later.correct_in_a_row == session.correct_in_a_row == 1
    assert (later.counted_answers, later.counted_right) == (2, 1)
    assert LearnerSession(learner_id="nobody", store_url=tracked_store.url).accuracy is None
