""" "What did I get wrong?": the exercises answered wrong and not solved since, or, with one of
them open, what differs in the last answer to it."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from learnpulse.agents import ask
from learnpulse.agents.guardrails import answer_patterns
from tests.conftest import make_event

#: (exercise, right?, payload) in time order: one wrong then solved, one wrong twice, a code
#: answer failing tests.
ANSWERS = [
    ("ex-variables-01", False, {"answer": "4", "feedback": "That is the value before the last."}),
    ("ex-variables-01", True, None),
    ("ex-lists-01", False, {"answer": "4", "feedback": "Not quite."}),
    ("ex-lists-01", False, {"answer": "5", "feedback": "Indexes start at 0."}),
    ("ex-loops-04", False, {"type": "code", "answer": "def total(n): return 0",
                            "feedback": "1 of 4 tests pass."}),
]  # fmt: skip


@pytest.fixture
def answered(course, lite_store):
    """The ANSWERS of "ada" stored a minute apart, then a chat question of another subject (so
    that "what did I get wrong?" follows up no check)."""
    now = datetime.now(timezone.utc)
    lite_store.append([
        make_event(learner_id="ada", course_id=course.id, item_id=item, correct=right,
                   payload=payload, skills=list(course.exercise(item).skills),
                   ts=(now - timedelta(minutes=len(ANSWERS) - n)).isoformat())
        for n, (item, right, payload) in enumerate(ANSWERS)
    ])  # fmt: skip
    ask("what is a tuple?", learner_id="ada", course=course, store=lite_store)
    return lite_store


@pytest.mark.parametrize("message", ["what did I get wrong?", "where did I go wrong?"])
def test_the_unsolved_wrong_answers_are_listed_latest_first(course, answered, message):
    """Before: "Happy to help! Tell me a bit more so I can" (too vague a question)."""
    reply = ask(message, learner_id="ada", course=course, store=answered)
    assert reply.agent == "assistant"
    assert reply.text.startswith("Your answers that are not right yet, latest first:")
    first = "1. **Sum of a list** (`ex-loops-04`): 1 wrong answer; the check said: *1 of 4 tests"
    assert first in reply.text
    second = "2. **Last index** (`ex-lists-01`): 2 wrong answers; the check said: *Indexes start"
    assert second in reply.text
    assert "ex-variables-01" not in reply.text  # solved since
    assert "`%exercise ex-loops-04`" in reply.text and reply.actions[0] == "Explain ex-loops-04"


def test_with_the_exercise_open_its_last_wrong_answer_is_compared(course, answered):
    """Not right after the check: before, "what differs in my answer?" got a course passage
    on recursion."""
    reply = ask("what differs in my answer?", learner_id="ada", exercise="ex-lists-01",
                course=course, store=answered)  # fmt: skip
    assert reply.text.startswith("Your last answer to **Last index** was not right yet.")
    assert "**You answered:** `5`" in reply.text and "Indexes start at 0." in reply.text
    for pattern in answer_patterns(course.exercise("ex-lists-01")):
        assert not pattern.search(reply.text)


def test_nothing_wrong_is_said_as_it_is(course, lite_store):
    newcomer = ask("what did I get wrong?", learner_id="new", course=course, store=lite_store)
    assert newcomer.text.startswith("You have not answered an exercise yet")
    lite_store.append(
        [
            make_event(
                learner_id="sol",
                course_id=course.id,
                item_id="ex-lists-01",
                correct=right,
                offset_s=n,
            )
            for n, right in enumerate((False, True))
        ]
    )
    ask("what is a tuple?", learner_id="sol", course=course, store=lite_store)
    solved = ask("what did I get wrong?", learner_id="sol", course=course, store=lite_store)
    assert solved.text.startswith("Nothing is wrong and unsolved")
