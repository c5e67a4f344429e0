"""Greetings, thanks, and requests that need an exercise when none is open ("give me a hint",
"is my answer right?"), and "this is too hard": each gets an answer to what was said, not a
Python reference passage or "tell me a bit more"."""

from __future__ import annotations

import pytest

from learnpulse.agents import ask
from learnpulse.agents.guardrails import answer_patterns
from tests.conftest import make_event


@pytest.mark.parametrize("message", ["hello", "hello there", "Good morning!", "hey tutor"])
def test_a_greeting_says_what_the_tutor_does(course, message):
    reply = ask(message, learner_id="ada", course=course)
    assert reply.text.startswith("Hi! I am the tutor of **Introduction to Python**.")
    assert reply.actions == (
        "What should I do next?",
        "How am I doing?",
        "Show me the course topics",
    )


@pytest.mark.parametrize("message", ["thanks!", "thank you so much", "ok thanks, that helps"])
def test_thanks_get_a_welcome(course, message):
    assert ask(message, learner_id="ada", course=course).text.startswith("You're welcome!")


def test_an_acknowledgement_after_the_coach_gets_no_study_plan(course, lite_store):
    """Before: "ok" after the coach's answer was its follow-up: a four-week study plan."""
    ask("make me a study plan", learner_id="ada", course=course, store=lite_store)
    for message in ("ok", "got it", "ok, makes sense!"):
        reply = ask(message, learner_id="ada", course=course, store=lite_store)
        assert reply.text == "Good! Go on with it, and ask me whenever something is unclear."


@pytest.mark.parametrize("message", ["bye", "see you tomorrow!", "Good night"])
def test_a_goodbye_gets_one(course, message):
    """Before: "bye" got the course passage on for loops."""
    reply = ask(message, learner_id="ada", course=course)
    assert reply.text.startswith("Good work today!")


@pytest.mark.parametrize("message", ["hi, what is a list?", "thanks, what is a list?"])
def test_a_question_after_a_greeting_is_answered_as_the_question(course, message):
    """Before: "hi" found the string methods' passage (``"Hi".upper()``), "thanks" recursion."""
    reply = ask(message, learner_id="ada", course=course)
    assert reply.text.startswith("**Lists and indexing — Creating lists**")


def test_a_hint_with_no_exercise_open_asks_which_and_the_named_one_gets_its_hint(
    course, lite_store
):
    """Before: "give me a hint" with no exercise got the Python reference on function
    definitions."""
    lite_store.append([make_event(learner_id="ada", course_id=course.id, item_id="ex-loops-04",
                                  correct=False, skills=["loops"])])  # fmt: skip
    ask("what is a tuple?", learner_id="ada", course=course, store=lite_store)
    reply = ask("give me a hint", learner_id="ada", course=course, store=lite_store)
    assert reply.text.startswith("A hint for which exercise? None is open")
    assert "**Sum of a list** (`ex-loops-04`)" in reply.text and "`%hint ex-loops-04`" in reply.text
    assert reply.actions == ("A hint for ex-loops-04",)
    hint = ask(reply.actions[0], learner_id="ada", course=course, store=lite_store)
    assert "Here is hint 1 of 3 for **Sum of a list**" in hint.text
    # a topic named is a question of its own
    loops = ask("stuck on loops", learner_id="ada", course=course, store=lite_store)
    assert loops.text.startswith("**for and while loops")


@pytest.mark.parametrize(
    ("exercise", "how"),
    [
        ("ex-loops-04", "put `%%check ex-loops-04` at the top of the cell with your code"),
        ("ex-lists-02", "answer in the exercise (`%exercise ex-lists-02`) and press **Check**"),
        (None, "Which exercise is it? None is open in this conversation."),
    ],
)
def test_is_my_answer_right_is_the_checks_to_say(course, exercise, how):
    """Before: a course passage on recursion. The tutor never judges an answer (it would give
    the right one away)."""
    reply = ask("is my answer right?", learner_id="ada", exercise=exercise, course=course)
    assert reply.agent == "assistant" and how in reply.text
    assert "I do not say whether an answer is right: the exercise's check does" in reply.text
    if exercise is not None:
        for pattern in answer_patterns(course.exercise(exercise)):
            assert not pattern.search(reply.text)


def test_too_hard_gets_the_coach_and_the_way_on_with_the_exercise(course):
    """Before: a passage of the pdb documentation ("hard-code a breakpoint")."""
    reply = ask("this is too hard", learner_id="ada", exercise="ex-loops-04", course=course)
    assert reply.agent == "coach"
    assert "For **Sum of a list**, take the next hint (`%hint ex-loops-04`)" in reply.text
    assert "*an easier one*" in reply.text
