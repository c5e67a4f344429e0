"""The exercise widget with real ipywidgets and a real SQLite store: feedback, hints, events,
live mastery, text rendering."""

from __future__ import annotations

import json

import pytest
from IPython.core.interactiveshell import InteractiveShell

from learnpulse.course import Course, demo_course
from learnpulse.widgets import ExerciseWidget, LearnerSession, prior_bkt
from learnpulse.widgets.chat import ask_tutor
from learnpulse.widgets.exercise import parse_answer
from tests.kernel_lib.widgets import helpers
from tests.kernel_lib.widgets.helpers import TrackedStore

tracked_store = helpers.tracked_store  # the fixture
COURSE = demo_course()


def test_numeric_answer_feedback_attempt_events_and_mastery(tracked_store: TrackedStore) -> None:
    widget = ExerciseWidget("ex-lists-01")
    widget.answer.value = "4"
    widget.check_button.click()
    assert widget.attempts == 1 and not widget.correct
    assert "length of the list" in widget.feedback  # the author's feedback for 4
    assert "length of the list" in widget.feedback_html.value
    prior = prior_bkt().lookup_[None][0]  # P(known) before any attempt
    assert f"Lists and indexing: {prior:.0%} →" in widget.mastery_html.value
    widget.answer.value = "3"
    widget.check_button.click()
    assert widget.correct and widget.feedback.startswith("Correct")
    assert "len(colours) - 1" in widget.explanation_html.value

    attempts = tracked_store.events("attempt")
    assert attempts.get_column("attempt").to_list() == [1, 2]
    assert attempts.get_column("correct").to_list() == [False, True]
    assert attempts.get_column("score").to_list() == [0.0, 1.0]
    assert attempts.get_column("item_id").unique().to_list() == ["ex-lists-01"]
    assert attempts.get_column("skills").to_list()[0] == ["lists"]
    assert attempts.get_column("course_id").unique().to_list() == ["demo-python-101"]
    assert all(d >= 0 for d in attempts.get_column("duration_ms").to_list())
    payload = json.loads(attempts.get_column("payload")[0])
    assert payload["diagnosis"] == "misconception" and payload["answer"] == "4"
    assert payload["mastery_after"]["lists"] < payload["mastery_before"]["lists"]
    assert tracked_store.events("explanation_viewed").height == 1


def test_mastery_is_the_bkt_online_update(tracked_store: TrackedStore) -> None:
    widget = ExerciseWidget("ex-loops-05")  # skills loops and conditionals
    expected: dict[str, float] = {}
    model = prior_bkt()
    for answer, correct in (("def count_passes(s, t):\n    return 0\n", False), (None, True)):
        namespace = {"count_passes": lambda s, t: sum(x >= t for x in s)}
        widget.namespace = namespace
        if answer is None:
            widget.answer.value = ""  # an empty box checks the notebook's function
            widget.submit()
        else:
            widget.submit(answer)
        assert widget.correct is correct
        for skill in ("loops", "conditionals"):
            model.update(expected, skill, correct, item="ex-loops-05")
    session = tracked_store.session
    assert session.mastery == pytest.approx(expected)
    frame = session.mastery_frame()
    loops = frame.filter(frame["skill"] == "loops").to_dicts()[0]
    assert loops["p_known"] == pytest.approx(expected["loops"])
    assert loops["n_attempts"] == 2 and loops["n_correct"] == 1
    assert loops["model"].startswith("bkt-prior") and "1 of 2 attempts" in loops["reason"]
    assert 0 < loops["confidence"] < 1


def test_hint_ladder_walks_up_to_the_end_and_records_hints(tracked_store: TrackedStore) -> None:
    exercise = COURSE.exercise("ex-loops-04")
    widget = ExerciseWidget(exercise)
    opened = [widget.hint() for _ in exercise.hints]
    assert opened == list(exercise.hints)
    assert widget.hint_level == len(exercise.hints)
    assert widget.hint_button.disabled
    assert widget.hint() is None and widget.hint_level == len(exercise.hints)
    assert all(h.split()[0] in widget.hints_html.value for h in exercise.hints)
    widget.submit(LOOP_TOTAL)
    hints = tracked_store.events("hint")
    assert hints.get_column("hints_used").to_list() == [1, 2, 3]
    attempt = tracked_store.events("attempt").to_dicts()[0]
    assert attempt["hints_used"] == 3 and attempt["correct"]


LOOP_TOTAL = "def total(numbers):\n    r = 0\n    for n in numbers:\n        r += n\n    return r\n"


def notebook_total(numbers):  # as if defined in a notebook cell: the rules read its source
    return sum(numbers)


def test_code_breaking_the_exercises_rules_is_wrong_with_the_rule_named(
    tracked_store: TrackedStore,
) -> None:
    """ex-loops-04 asks for a for loop, not sum(): sum passed it."""
    widget = ExerciseWidget("ex-loops-04", namespace={"total": notebook_total})
    widget.answer.value = "def total(numbers):\n    return sum(numbers)\n"
    widget.check_button.click()
    rule = "this exercise asks you not to use the built-in sum() (line 2) and to use a for loop."
    assert not widget.correct and widget.feedback == f"All 4 tests pass, but {rule}"
    assert "not to use the built-in sum()" in widget.feedback_html.value
    assert widget.explanation_html.value == ""  # the explanation waits for a correct answer
    widget.answer.value = ""  # an empty box checks the notebook's function: its source
    widget.check_button.click()
    assert not widget.correct and "not to use the built-in sum() (in total)" in widget.feedback
    widget.answer.value = LOOP_TOTAL
    widget.check_button.click()
    assert widget.correct and widget.feedback == "All 4 tests pass."

    attempts = tracked_store.events("attempt")
    assert attempts.get_column("correct").to_list() == [False, False, True]
    assert attempts.get_column("score").to_list() == [0.0, 0.0, 1.0]
    payloads = [json.loads(p) for p in attempts.get_column("payload")]
    assert [p["diagnosis"] for p in payloads] == ["broken_rule", "broken_rule", "correct"]


def test_policy_caps_the_hint_ladder(tracked_store: TrackedStore) -> None:
    limited = Course.from_dict(
        {
            "id": "capped",
            "title": "Capped hints",
            "skills": [{"id": "lists", "name": "Lists"}],
            "exercises": [
                {
                    "id": "q",
                    "prompt": "Index of the first element?",
                    "skills": ["lists"],
                    "difficulty": 0.1,
                    "type": "numeric",
                    "answer": 0,
                    "hints": ["one", "two", "three"],
                    "policy": {"max_hint_level": 1},
                },
                {
                    "id": "none",
                    "prompt": "No hints here",
                    "skills": ["lists"],
                    "difficulty": 0.1,
                    "type": "numeric",
                    "answer": 0,
                    "hints": ["hidden"],
                    "policy": {"max_hint_level": 0},
                },
            ],
        }
    )
    session = LearnerSession(course=limited, learner_id="ada", store_url=tracked_store.url)
    capped = ExerciseWidget("q", session=session)
    assert capped.hint() == "one"
    assert capped.hint() is None and capped.hint_level == 1 and capped.hint_button.disabled
    assert "two" not in capped.hints_html.value
    closed = ExerciseWidget("none", session=session)
    assert closed.hint_button.disabled and "turned off" in closed.hint_button.tooltip
    assert closed.hint() is None and "hidden" not in closed.as_text()


def test_choice_and_code_widgets(tracked_store: TrackedStore) -> None:
    choice = ExerciseWidget("ex-lists-02")
    assert [label for label, _ in choice.answer.options][1] == "b) 30"
    choice.answer.value = 2
    choice.check_button.click()
    assert not choice.correct and "nums[-1]" in choice.feedback
    choice.answer.value = 1
    choice.check_button.click()
    assert choice.correct

    code = ExerciseWidget("ex-loops-07", namespace={})
    assert code.answer.value.startswith("def countdown(")
    code.answer.value = "def countdown(n):\n    return list(range(n, -1, -1))\n"
    code.check_button.click()
    assert "one element too many" in code.feedback and not code.correct
    code.answer.value = ""
    code.check_button.click()  # nothing written, nothing in the namespace
    assert "could not find a function named 'countdown'" in code.feedback


def test_empty_answer_is_not_an_attempt(tracked_store: TrackedStore) -> None:
    widget = ExerciseWidget("ex-lists-04")
    widget.check_button.click()
    assert widget.attempts == 0 and "answer first" in widget.feedback_html.value
    assert tracked_store.events("attempt").height == 0


def test_history_from_the_store_starts_the_next_session(tracked_store: TrackedStore) -> None:
    widget = ExerciseWidget("ex-lists-03")
    widget.submit(3)
    widget.submit(3)
    tracked_store.events()  # delivered
    later = LearnerSession(learner_id="ada", store_url=tracked_store.url)
    assert later.load_history() == 2
    assert later.mastery["lists"] == pytest.approx(tracked_store.session.mastery["lists"])
    assert "ex-lists-03" in later.solved and later.attempts["ex-lists-03"] == 2
    assert later.streak_days() == 1


def test_hints_opened_before_a_restart_stay_open(tracked_store: TrackedStore) -> None:
    exercise = COURSE.exercise("ex-lists-05")
    first = ExerciseWidget(exercise)
    first.hint()
    first.hint()
    tracked_store.events()  # delivered
    # the kernel restarts: a new session of the same learner
    later = LearnerSession(learner_id="ada", store_url=tracked_store.url)
    widget = ExerciseWidget(exercise, session=later)
    assert widget.hint_level == 2 and exercise.hints[1] in widget.hints_html.value
    assert widget.hint() == exercise.hints[2]
    again = LearnerSession(learner_id="ada", store_url=tracked_store.url)
    assert again.open_hint(exercise) is None  # as %hint: the ladder is at its end
    levels = tracked_store.events("hint").get_column("hints_used").to_list()
    assert levels == [1, 2, 3]  # no hint recorded twice


def test_the_tutors_hints_and_the_hint_button_share_one_ladder(
    tracked_store: TrackedStore,
) -> None:
    """After two hints from the tutor, the Hint button offered hint 1 again (and recorded it):
    the tutor's hints now count in the session, live and after a restart."""
    exercise = COURSE.exercise("ex-lists-05")
    widget = ExerciseWidget(exercise)
    session = tracked_store.session
    levels = [ask_tutor("can I have a hint?", session, exercise=exercise).hint_level]
    levels.append(ask_tutor("another hint please", session, exercise=exercise).hint_level)
    assert levels == [1, 2]
    assert widget.hint_level == 2 and exercise.hints[1] in widget.hints_html.value
    assert widget.hint_button.tooltip == f"Hint 3 of {exercise.hint_limit}"
    assert widget.hint() == exercise.hints[2]
    assert tracked_store.events("hint").get_column("hints_used").to_list() == [3]
    # the kernel restarts: the tutor's hints are read back from its messages
    later = LearnerSession(learner_id="ada", store_url=tracked_store.url)
    only_tutor = COURSE.exercise("ex-lists-04")
    ask_tutor("give me a hint", session, exercise=only_tutor)
    assert ExerciseWidget(only_tutor, session=later).hint_level == 1


def test_unreachable_store_still_gives_feedback(tmp_path) -> None:
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("a file where the store's folder should be")
    session = LearnerSession(learner_id="bob", store_url=f"sqlite:///{blocked / 'x.db'}")
    widget = ExerciseWidget("ex-lists-01", session=session)
    assert widget.submit(3).correct  # history could not be read: starts from the prior
    assert session.load_history() == 0 and session.attempts == {"ex-lists-01": 1}


def test_text_rendering_for_a_terminal(tracked_store: TrackedStore) -> None:
    widget = ExerciseWidget("ex-lists-02")
    widget.hint()
    widget.submit("a")
    shell = InteractiveShell.instance()
    data, _ = shell.display_formatter.format(widget)
    text = data["text/plain"]
    assert "Exercise ex-lists-02: Negative index" in text
    assert "  b) 30" in text and "Hint 1: Negative indexes count from the end" in text
    assert "✘" in text and "Mastery — Lists and indexing" in text
    assert "application/vnd.jupyter.widget-view+json" in data  # a live view where possible
    assert "%%check ex-lists-01" in str(ExerciseWidget("ex-lists-01"))


@pytest.mark.parametrize(
    ("typed", "parsed"), [("3", 3), (" 2.5 ", 2.5), ("'3'", "3"), ("three", "three"), ("1e3", 1e3)]
)
def test_typed_numeric_answers_are_parsed(typed: str, parsed) -> None:
    value = parse_answer(COURSE.exercise("ex-lists-01"), typed)
    assert value == parsed and type(value) is type(parsed)


def test_unknown_exercise_names_close_matches() -> None:
    with pytest.raises(KeyError, match="ex-lists-01"):
        ExerciseWidget(
            "ex-list-01", session=LearnerSession(learner_id="x", store_url="/nonexistent")
        )
