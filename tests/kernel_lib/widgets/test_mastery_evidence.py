"""Mastery a student cannot game, in the widgets and %%check on a real SQLite store.

Before, answering a solved exercise right again raised mastery each time: from the prior
(P(known) 0.5), two more right answers to ex-lists-01 made "Lists and indexing" Mastered.
Now a repeat is practice and says so; a right answer after every hint counts as wrong; a
retry after a wrong answer counts; and a kernel restart (history read back from the store)
keeps all of it.
"""

from __future__ import annotations

import json

import pytest
from IPython.core.interactiveshell import InteractiveShell
from IPython.utils.capture import capture_output

from learnpulse.course import demo_course
from learnpulse.models.knowledge_tracing.evidence import HINT_LADDER_KEY
from learnpulse.widgets import ExerciseWidget, LearnerSession, prior_bkt
from learnpulse.widgets.session import BOTTOM_OUT_NOTE, PRACTICE_NOTE
from tests.kernel_lib.widgets import helpers
from tests.kernel_lib.widgets.helpers import TrackedStore

tracked_store = helpers.tracked_store  # the fixture
COURSE = demo_course()
LOOP_TOTAL = "def total(numbers):\n    r = 0\n    for n in numbers:\n        r += n\n    return r\n"


def p_lists(session: LearnerSession) -> float:
    return session.p_known("lists")


def test_answering_a_solved_exercise_again_is_practice(tracked_store: TrackedStore) -> None:
    widget = ExerciseWidget("ex-lists-01")
    widget.submit(3)
    solved_at = p_lists(tracked_store.session)
    assert solved_at < COURSE.mastery_threshold
    for _ in range(10):
        widget.submit(3)
        assert widget.correct and p_lists(tracked_store.session) == solved_at
    assert PRACTICE_NOTE in widget.mastery_html.value
    assert f"Lists and indexing: {solved_at:.0%} (" in widget.mastery_html.value
    row = tracked_store.session.mastery_frame().filter(skill="lists").row(0, named=True)
    assert not row["mastered"] and (row["n_attempts"], row["n_correct"]) == (1, 1)
    # the events still hold every attempt: the instructor sees the practice, not as mastery
    attempts = tracked_store.events("attempt")
    assert attempts.height == 11 and attempts.get_column("attempt").to_list() == list(range(1, 12))
    payload = json.loads(attempts.get_column("payload")[-1])
    assert payload["mastery_before"] == payload["mastery_after"] == {"lists": solved_at}


def test_a_retry_after_a_wrong_answer_counts_then_practice_does_not(
    tracked_store: TrackedStore,
) -> None:
    widget = ExerciseWidget("ex-lists-01")
    expected: dict[str, float] = {}
    model = prior_bkt()
    for answer, correct, counts in ((4, False, True), (3, True, True), (4, False, False)):
        before = p_lists(tracked_store.session)
        widget.submit(answer)
        assert widget.correct is correct
        if counts:
            model.update(expected, "lists", correct)
            assert PRACTICE_NOTE not in widget.mastery_html.value
        else:  # a wrong answer to the solved exercise: practice too, mastery kept
            assert p_lists(tracked_store.session) == before
            assert PRACTICE_NOTE in widget.mastery_html.value
    assert p_lists(tracked_store.session) == pytest.approx(expected["lists"])


def test_a_right_answer_after_every_hint_counts_as_wrong(tracked_store: TrackedStore) -> None:
    exercise = COURSE.exercise("ex-loops-04")
    widget = ExerciseWidget(exercise)
    for _ in exercise.hints:
        widget.hint()
    widget.submit(LOOP_TOTAL)
    assert widget.correct and widget.feedback == "All 4 tests pass."
    expected: dict[str, float] = {}
    prior_bkt().update(expected, "loops", False)
    assert tracked_store.session.p_known("loops") == pytest.approx(expected["loops"])
    assert BOTTOM_OUT_NOTE in widget.mastery_html.value
    attempt = tracked_store.events("attempt").row(0, named=True)
    assert attempt["correct"] and attempt["hints_used"] == len(exercise.hints)
    assert json.loads(attempt["payload"])[HINT_LADDER_KEY] == len(exercise.hints)
    # one hint fewer is help, not the answer: a right answer then counts as right
    fewer = ExerciseWidget("ex-loops-03")
    fewer.hint()
    before = tracked_store.session.p_known("loops")
    fewer.submit("break")
    assert fewer.correct and tracked_store.session.p_known("loops") > before


def test_a_kernel_restart_keeps_solved_exercises_solved(tracked_store: TrackedStore) -> None:
    ExerciseWidget("ex-lists-01").submit(3)
    tracked_store.events()  # delivered
    later = LearnerSession(learner_id="ada", store_url=tracked_store.url)
    assert p_lists(later) == p_lists(tracked_store.session)
    again = ExerciseWidget("ex-lists-01", session=later)
    again.submit(3)
    assert p_lists(later) == p_lists(tracked_store.session)
    assert PRACTICE_NOTE in again.mastery_html.value


def test_check_magic_repeats_are_practice_too(tracked_store: TrackedStore) -> None:
    ip = InteractiveShell.instance()
    ip.run_cell("%load_ext learnpulse", store_history=True)
    try:
        cell = "%%check ex-lists-01\n3\n"
        for _ in range(3):
            with capture_output() as captured:
                ip.run_cell(cell, store_history=True)
        report = captured.outputs[-1].data["text/plain"]
        assert PRACTICE_NOTE in report
    finally:
        ip.run_cell("%unload_ext learnpulse")
    row = tracked_store.session.mastery_frame().filter(skill="lists").row(0, named=True)
    assert (row["n_attempts"], row["n_correct"]) == (1, 1) and not row["mastered"]
