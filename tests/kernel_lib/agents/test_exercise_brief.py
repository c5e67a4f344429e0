"""What an exercise asks, restated for a learner who does not see it: every exercise type, no
answer beyond what the exercise shows, and "which exercise?" when none is open."""

from __future__ import annotations

import pytest

from learnpulse.agents import ask
from learnpulse.agents.exercise_brief import asks_about_the_task
from learnpulse.agents.guardrails import answer_patterns
from tests.conftest import make_event
from tests.kernel_lib.agents.test_guardrails import leaks

BRIEF = "Here is what **{}** asks, part by part:"


@pytest.mark.parametrize(
    "message",
    [
        "I don't understand this exercise",
        "what am I supposed to do here?",
        "I'm confused by the question",
        "what does this question ask?",
        "can you explain this exercise?",
        "could you rephrase the task?",
        "I don't get what the problem wants",
        # the for-loops passage, like the others before
        "I'm lost",
        "I feel so confused!",
    ],
)
def test_the_task_is_restated_when_it_is_unclear(course, message):
    """Before, each of these got the course passage on for loops, not what the task is."""
    reply = ask(message, learner_id="ada", exercise="ex-loops-04", course=course)
    assert reply.agent == "assistant"
    assert reply.text.startswith(BRIEF.format("Sum of a list"))
    assert "1. Write `total(numbers)` that returns the sum of a list" in reply.text
    assert "2. The sum of `[]` is 0." in reply.text
    assert "a function `total` defined in a code cell" in reply.text
    assert "the exercise asks you not to use the built-in sum() and to use a for loop" in reply.text
    assert "`%hint ex-loops-04`" in reply.text and reply.actions[0] == "Give me a hint"
    assert {s.id for s in reply.sources} >= {"exercise:ex-loops-04"}
    assert any(s.id.startswith("course:loops") for s in reply.sources)


@pytest.mark.parametrize(
    "message",
    [
        "I don't understand this hint",
        "explain the concept behind this exercise",
        "help me with this exercise",
        "what is a list?",
        "what does range(5) give?",
    ],
)
def test_other_questions_during_an_exercise_are_not_a_brief(course, message):
    assert not asks_about_the_task(message)
    reply = ask(message, learner_id="ada", exercise="ex-loops-04", course=course)
    assert "asks, part by part" not in reply.text


def test_each_kind_of_answer_is_described(course):
    def brief(exercise_id):
        return ask("what does this question ask?", learner_id="ada", exercise=exercise_id,
                   course=course).text  # fmt: skip

    numeric = brief("ex-variables-01")
    assert "1. What is the value of `x` after these lines run?" in numeric
    assert "The exercise shows 3 lines of code" in numeric  # described, not repeated
    assert "x = x + y" not in numeric and "**Your answer:** a number." in numeric
    choice = brief("ex-lists-02")
    # the whole question and every option, the right one too, as the exercise shows them
    assert "With `nums = [10, 20, 30, 40]`, what is `nums[-2]`?" in choice
    assert "one of its 4 options: *20*; *30*; *40*; *an IndexError*." in choice
    assert "answer hidden" not in choice
    assert "a short text. Case" in brief("ex-strings-01")
    code = brief("ex-loops-06")
    assert "The check calls it on 4 cases, such as `largest([3, 9, 2])`." in code
    assert "not to use the built-in max()" in code
    assert "-2" not in code  # a hidden case's expected value


def test_no_brief_gives_more_of_the_answer_than_the_exercise_shows(course):
    """Every exercise of the course: its solution's code never, and the expected answer of a
    numeric, choice or text exercise no more often than in what the exercise widget shows: its
    title (the answer to "Base case" is "base case"), question and options."""
    for exercise in course.exercises.values():
        text = ask("I don't understand this exercise", learner_id="ada", exercise=exercise.id,
                   course=course).text  # fmt: skip
        assert text.startswith(BRIEF.format(exercise.title)), exercise.id
        if exercise.type == "code":
            assert not leaks(text, exercise.solution), exercise.id
        shown = " ".join((exercise.title, exercise.prompt, *exercise.choices))
        for pattern in answer_patterns(exercise):
            assert len(pattern.findall(text)) <= len(pattern.findall(shown)), exercise.id


def test_without_hints_left_the_brief_suggests_a_small_example(policy_course):
    reply = ask("what am I supposed to do?", learner_id="ada", exercise="no-hints",
                course=policy_course)  # fmt: skip
    assert "try the idea on a small example" in reply.text and "%hint" not in reply.text


def test_with_no_exercise_open_the_tutor_asks_which_and_names_the_recent_unsolved(
    course, lite_store
):
    """Before: "explain the concept behind this exercise" with no exercise got a Python
    reference passage on asynchronous context managers, and "I don't understand this
    exercise" was taken for too vague a question."""
    worked = [("ex-lists-01", True, 0), ("ex-loops-04", False, 60), ("ex-loops-06", False, 120)]
    lite_store.append(
        [
            make_event(
                learner_id="ada", course_id=course.id, item_id=item, correct=right, offset_s=offset
            )
            for item, right, offset in worked
        ]
    )
    # right after a check, "this exercise" is the one checked
    checked = ask("I don't understand this exercise", learner_id="ada", course=course,
                  store=lite_store)  # fmt: skip
    assert "About your last answer to **Running maximum**" in checked.text
    assert BRIEF.format("Running maximum") in checked.text
    ask("what is a tuple?", learner_id="ada", course=course, store=lite_store)
    for message in ("I don't understand this exercise", "explain the concept behind this exercise"):
        reply = ask(message, learner_id="ada", course=course, store=lite_store)
        assert reply.text.startswith("Which exercise do you mean? None is open")
        # latest first, the solved one left out
        assert (
            "**Running maximum** (`ex-loops-06`); **Sum of a list** (`ex-loops-04`)." in reply.text
        )
        assert "List" not in reply.text.split("last:")[1]
        assert reply.actions == ("Explain ex-loops-06", "Explain ex-loops-04")
    # the suggested follow-up, sent back, names the exercise: its brief
    named = ask("Explain ex-loops-06", learner_id="ada", course=course, store=lite_store)
    assert named.text.startswith(BRIEF.format("Running maximum"))
    fresh = ask("can you explain this exercise?", learner_id="newcomer", course=course)
    assert "Name it by its id (*explain <id>*)" in fresh.text and fresh.actions == ()


@pytest.mark.parametrize(
    ("exercise", "message"),
    [
        # these got a passage on recursion, or on the list methods with the answer hidden
        ("ex-lists-01", "is the answer 3?"),
        ("ex-lists-01", "is it 4?"),
        ("ex-lists-01", "it's 3, right?"),
        ("ex-lists-02", "is it b?"),
        ("ex-lists-02", "would 30 be correct?"),
        ("ex-lists-04", "is it append?"),
    ],
)
def test_an_answer_put_to_the_tutor_is_left_to_the_check(course, exercise, message):
    reply = ask(message, learner_id="ada", exercise=exercise, course=course)
    assert reply.text.startswith("I do not say whether an answer is right: the exercise's check")
    patterns = answer_patterns(course.exercise(exercise))
    assert not any(pattern.search(reply.text) for pattern in patterns), reply.text


def test_a_question_shaped_like_an_answer_but_not_of_the_exercises_kind_is_a_question(course):
    """ "Is it possible?" on a numeric exercise proposes no number."""
    reply = ask("is it possible?", learner_id="ada", exercise="ex-lists-01", course=course)
    assert not reply.text.startswith("I do not say whether an answer is right")
