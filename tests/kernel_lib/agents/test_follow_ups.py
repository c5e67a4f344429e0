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


def _asked_again(course, store, first: str, follow_ups: list[str], **options):
    """The replies to ``first`` and then each of ``follow_ups``, asked by one learner."""
    replies = [ask(first, learner_id="ada", course=course, store=store, **options)]
    for message in follow_ups:
        replies.append(ask(message, learner_id="ada", course=course, store=store, **options))
    return replies


def test_asked_again_an_error_is_explained_another_way_each_time(course, lite_store):
    """ "why?" and "I still don't get it" after an explained error got the same text, again
    and again: now each takes the next angle, and the tutor says when it has run out."""
    follow_ups = ["why?", "I still don't get it", "why?", "still confused", "why?", "why?"]
    error = pasted("ZeroDivisionError: division by zero", "average = sum(scores) / len(scores)")
    _, *replies = _asked_again(course, lite_store, error, follow_ups)
    texts = [r.text for r in replies]
    assert all(r.agent == "reviewer" for r in replies)
    assert len(set(texts[:5])) == 5  # never the same explanation twice
    assert "In simpler words: Something was divided by zero" in texts[0]
    assert "Step by step, here is what Python does with line 2" in texts[1]
    assert "5. It works out `sum(scores) / len(scores)`. **This is the step that raises" in texts[1]
    assert "Think of it this way: It is like sharing 10 sweets among 0 friends" in texts[2]
    assert "A smaller example that raises the same error" in texts[3]
    assert "Ask again, and I will explain it another way" in texts[2]
    assert "Ask again" not in texts[3]  # the last angle promises no other
    for ran_out in texts[4:]:
        assert "I have explained your **ZeroDivisionError** (Line 2" in ran_out
        assert (
            "every way I have: in simpler words, step by step through the failing line, "
            "with an analogy and with a small example of its own" in ran_out
        )
        assert "show your instructor" in ran_out and "hint" not in ran_out  # no exercise
    rungs = [json.loads(p).get("rung") for p in lite_store.query(kinds="tutor_message")
             .get_column("payload")][1::2]  # fmt: skip
    assert rungs == [None, "simpler", "trace", "analogy", "example", "ran-out", "ran-out"]


def test_the_ladder_goes_on_after_the_concept_and_starts_again_for_a_new_error(course, lite_store):
    key_error = pasted("KeyError: 'bob'", 'scores["bob"]')
    follow_ups = ["why?", CONCEPT, "why?", "can you show a smaller example?", "why?"]
    _, simpler, concept, trace, example, analogy = _asked_again(
        course, lite_store, key_error, follow_ups
    )
    assert "In simpler words" in simpler.text and concept.agent == "assistant"
    assert "Step by step" in trace.text and "A smaller example" in example.text
    assert "Think of it this way" in analogy.text  # the example was asked for, out of turn
    other = pasted("IndexError: list index out of range", "scores[2]")
    _, again = _asked_again(course, lite_store, other, ["why?"])
    assert "In simpler words: The code asked for a position" in again.text


def test_during_an_exercise_the_last_rung_points_to_a_hint(course, lite_store):
    error = pasted("NameError: name 'totl' is not defined", "return totl", "total")
    follow_ups = ["why?"] * 5
    *_, ran_out = _asked_again(course, lite_store, error, follow_ups, exercise="ex-loops-04")
    assert "ask for a hint (*Give me a hint*)" in ran_out.text
    assert ran_out.actions[0] == "Give me a hint"
    hint = ask("Give me a hint", learner_id="ada", course=course, store=lite_store,
               exercise="ex-loops-04")  # fmt: skip
    assert hint.agent == "assistant" and hint.hint_level == 1


def test_a_language_model_is_told_what_was_already_said(course, lite_store, chat_api):
    from learnpulse.agents import OpenAIChatEngine

    error = pasted("KeyError: 'bob'", 'scores["bob"]')
    _asked_again(course, lite_store, error, ["why?"])
    chat_api.text = "Think of a dictionary as a phone book."
    engine = OpenAIChatEngine(chat_api.url, "tutor-model", timeout=5)
    reply = ask("I still don't get it", learner_id="ada", course=course, store=lite_store,
                engine=engine)  # fmt: skip
    assert reply.text == chat_api.text
    sent = chat_api.requests[-1]["body"]["messages"]
    assert (
        "The learner asks again about this KeyError, already explained (what, why, where, how "
        "to investigate; since then: in simpler words). Explain it step by step through the "
        "failing line; do not repeat what was said" in sent[0]["content"]
    )
    assert any("In simpler words" in m["content"] for m in sent if m["role"] == "assistant")
