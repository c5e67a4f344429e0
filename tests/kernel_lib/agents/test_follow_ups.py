"""Follow-ups of an explained error, a hint or a check: the concept behind them, and
explanations that take another angle each time they are asked again."""

from __future__ import annotations

import json

import pytest

from learnpulse.agents import ask
from learnpulse.agents.tutor import CONCEPT_FOLLOW_UP

CONCEPT = "Explain the concept behind this"


def pasted(error: str, line: str, function: str = "<module>") -> str:
    """A traceback as a learner pastes it into the chat."""
    return (
        "I get this:\nTraceback (most recent call last):\n"
        f'  File "/tmp/ipykernel_1/2.py", line 2, in {function}\n    {line}\n{error}\n'
    )


@pytest.mark.parametrize(
    ("error", "line", "section"),
    [
        ("KeyError: 'bob'", 'scores["bob"]', "course:dicts#Missing keys"),
        ("IndexError: list index out of range", "scores[2]", "course:lists#Indexing"),
        ("NameError: name 'colour' is not defined", "print(colour)",
         "course:variables#Using a name before it exists"),
        ("UnboundLocalError: cannot access local variable 'count' where it is not associated "
         "with a value", "count = count + 1", "course:functions#Scope"),
        ("ZeroDivisionError: division by zero", "total / count",
         "course:expressions#Arithmetic operators"),
        ("RecursionError: maximum recursion depth exceeded", "return countdown(n - 1)",
         "course:recursion#RecursionError"),
        ("FileNotFoundError: [Errno 2] No such file or directory: 'notes.txt'",
         'open("notes.txt")', "course:files#Opening a file"),
    ],
)  # fmt: skip
def test_the_concept_behind_an_error_is_its_course_section(
    course, lite_store, error, line, section
):
    """After an error was explained, "Explain the concept behind this" (the reply's own
    suggested action) explained the error again, word for word."""
    explained = ask(pasted(error, line), learner_id="ada", course=course, store=lite_store)
    assert CONCEPT in explained.actions
    reply = ask(CONCEPT, learner_id="ada", course=course, store=lite_store)
    assert reply.agent == "assistant"
    assert reply.sources[0].id == section
    type_name = error.partition(":")[0]
    assert reply.text.startswith(f"The concept behind your **{type_name}** (Line 2")
    assert f"(Source: *{course.skills[section[7:].partition('#')[0]].name} — " in reply.text
    assert "Still about your" not in reply.text
    routing = json.loads(lite_store.query(kinds="tutor_message").get_column("payload")[-1])
    assert routing["routing"] == CONCEPT_FOLLOW_UP


def test_the_concept_behind_a_hint_or_a_check_is_the_exercises_topic(course, lite_store):
    """After a hint, the suggested "Explain the concept behind this exercise" went to the
    content generator (its keyword "exercise"), and "concept" asked about a hint put the
    hint another way again."""
    hint = ask("give me a hint", learner_id="ada", course=course, store=lite_store,
               exercise="ex-loops-04")  # fmt: skip
    action = next(a for a in hint.actions if "concept" in a)
    reply = ask(action, learner_id="ada", course=course, store=lite_store, exercise="ex-loops-04")
    assert reply.agent == "assistant"
    assert reply.text.startswith("The concept behind **Sum of a list**, from the course")
    assert reply.sources[0].id.startswith("course:loops#")
    assert reply.hint_level is None  # no hint opened
    solution = course.exercise("ex-loops-04").solution
    assert "result += n" not in reply.text and solution.strip() not in reply.text
