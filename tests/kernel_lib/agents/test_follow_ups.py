"""Follow-ups of an explained error, a hint or a check: the concept behind them (asked with
the suggested action or typed), and explanations that take another angle each time they are
asked again."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest

from learnpulse.agents import ask
from learnpulse.agents.tutor import CONCEPT_FOLLOW_UP
from tests.conftest import make_event

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


WRONG_TOTAL = (  # returns inside the loop: 1 of 4 tests pass
    "def total(numbers):\n    result = 0\n    for n in numbers:\n        result += n\n"
    "        return result\n"
)


def _act(course, store, exercise_id: str, kind: str = "attempt", **fields) -> None:
    """What the learner does outside the chat, as the kernel stores it: a hint opened with the
    widget, or an answer checked (``answer``, and what the check said)."""
    from learnpulse.course import check

    exercise = course.exercise(exercise_id)
    event = {
        "kind": kind, "learner_id": "ada", "course_id": course.id, "item_id": exercise_id,
        "skills": list(exercise.skills), "ts": datetime.now(timezone.utc).isoformat(),
    }  # fmt: skip
    if kind == "attempt":
        answer = fields["answer"]
        result = check(exercise, answer)
        event.update(correct=result.correct, payload={
            "type": exercise.type, "answer": str(answer), "feedback": result.feedback,
            "diagnosis": result.details["diagnosis"],
        })  # fmt: skip
    else:
        event.update(correct=None, hints_used=1)
    store.append([make_event(**event)])


def _rungs(store) -> list:
    """The rung of each of the tutor's replies, oldest first."""
    payloads = store.query(kinds="tutor_message").get_column("payload")
    return [json.loads(p).get("rung") for p in payloads][1::2]


def _climbed(texts: list[str], ran_out_at: int) -> None:
    """Each reply says something new until the ladder runs out; then it says so each time."""
    assert len(set(texts[: ran_out_at + 1])) == ran_out_at + 1
    assert all(text == texts[ran_out_at] for text in texts[ran_out_at:])


@pytest.mark.parametrize("checked_before", [False, True])
def test_asked_again_after_a_hint_each_reply_takes_another_angle(
    course, lite_store, checked_before
):
    """After a hint, "why?" got the hint put the same other way, word for word, every time it
    was asked. Now: the hint in other words, what differs in the learner's last wrong answer
    (if there is one), the concept the exercise practises (from the course), a small example
    on a different problem; then the tutor says it has run out and offers the next hint."""
    from learnpulse.agents import generated_exercise
    from learnpulse.agents.generator import render
    from tests.kernel_lib.agents.test_guardrails import leaks

    exercise = course.exercise("ex-loops-04")
    if checked_before:
        _act(course, lite_store, exercise.id, answer=WRONG_TOTAL)
    hint, *replies = _asked_again(course, lite_store, "give me a hint", ["why?"] * 6,
                                  exercise=exercise.id)  # fmt: skip
    assert hint.hint_level == 1
    texts = [r.text for r in replies]
    assert all(r.agent == "assistant" for r in replies)
    rungs = ["reworded", *(["difference"] if checked_before else []), "concept", "example"]
    _climbed(texts, len(rungs))
    assert _rungs(lite_store)[1:] == [*rungs, *["ran-out"] * (6 - len(rungs))]
    said = dict(zip(rungs, texts, strict=False))
    assert f"says:\n\n> {exercise.hints[0]}\n\nPut another way, from *" in said["reworded"]
    assert said["concept"].startswith("The concept behind **Sum of a list**, from the course")
    if checked_before:
        assert said["difference"].startswith("Your last answer to **Sum of a list** was not")
        assert "1 of 4 tests pass" in said["difference"] and "**The exercise asks:**" in texts[1]
    example_id = said["example"].split("`%exercise ")[1].split("`")[0]
    example = generated_exercise(example_id)  # a different problem, on the same skill
    assert example.skill == "loops" and example.function != exercise.function
    assert render(example) in said["example"]
    assert "Ask again" in said["reworded"] and "Ask again" not in said["example"]
    ran_out = texts[-1]
    assert ran_out.startswith("I have gone over the hint you opened last for **Sum of a list**")
    assert "`%hint ex-loops-04`" in ran_out and "show your instructor" in ran_out
    assert replies[-1].actions == ("Another hint",)
    for text in texts:
        assert not leaks(text, exercise.solution) and "result += n" not in text


def test_small_talk_between_follow_ups_does_not_start_the_ladder_again(course, lite_store):
    """ "ok" or "thanks" between two "why?" after a hint: the second "why?" got the hint put
    another way again, the ladder started over."""
    follow_ups = ["why?", "ok", "why?", "thanks!", "why?"]
    replies = _asked_again(course, lite_store, "give me a hint", follow_ups, exercise="ex-loops-04")
    assert replies[2].text.startswith("Good! Go on with it")
    assert replies[4].text.startswith("You're welcome!")
    assert [r for r in _rungs(lite_store) if r] == ["reworded", "concept", "example"]


def test_asked_again_after_a_wrong_check_each_reply_takes_another_angle(course, lite_store):
    """After an answer checked wrong, "why?" got the same course passage again and again. Now:
    what differs between the answer and the question, the hint opened put another way, the
    concept, a small example on another problem, then the next hint or the instructor; never
    the answer (3)."""
    from learnpulse.agents.guardrails import answer_patterns

    exercise = course.exercise("ex-lists-01")
    _act(course, lite_store, exercise.id, kind="hint")  # the widget's Hint button
    _act(course, lite_store, exercise.id, answer=4)
    replies = [ask("why?", learner_id="ada", course=course, store=lite_store,
                   exercise=exercise.id) for _ in range(6)]  # fmt: skip
    texts = [r.text for r in replies]
    _climbed(texts, 4)
    assert _rungs(lite_store) == ["difference", "reworded", "concept", "example", *["ran-out"] * 2]
    lead = "About your last answer to **Last index**: it was not right yet. The check said: 4 is "
    assert all(text.startswith(lead) for text in texts)
    difference, reworded, concept, example, ran_out = texts[:5]
    assert "**The exercise asks:**\n\n> `colours = " in difference
    assert "**You answered:** `4`" in difference
    assert "**What differs:** your answer is a mix-up your instructor expected" in difference
    assert f"says:\n\n> {exercise.hints[0]}" in reworded
    assert "The concept behind **Last index**, from the course" in concept
    assert "a small example on a different problem" in example and "`%exercise gen-" in example
    assert "`%hint ex-lists-01`" in ran_out and "show your instructor your answer" in ran_out
    for text in texts:
        assert not any(pattern.search(text) for pattern in answer_patterns(exercise)), text


def test_a_code_answer_checked_is_reviewed_then_explained_another_way(course, lite_store):
    """After a code answer checked wrong, "why?" got the same review each time. The review
    is the first angle; asked again, the learning assistant takes the next ones (an example
    first if asked for one), then points to a hint, as none was opened."""
    from tests.kernel_lib.agents.test_guardrails import leaks

    exercise = course.exercise("ex-loops-04")
    _act(course, lite_store, exercise.id, answer=WRONG_TOTAL)
    follow_ups = ["why?", "can you show me an example?", "why?", "why?", "why?"]
    # no exercise given (as in tutor/chat): the check says which
    replies = [ask(m, learner_id="ada", course=course, store=lite_store) for m in follow_ups]
    assert [r.agent for r in replies] == ["reviewer", *["assistant"] * 4]
    assert _rungs(lite_store) == ["difference", "example", "concept", "ran-out", "ran-out"]
    texts = [r.text for r in replies]
    _climbed(texts, 3)
    assert "return-in-loop" in texts[0] and "Here is a small example" in texts[1]
    assert "ask again" not in texts[2].lower()  # the last angle promises no other
    assert "open the next hint (*Give me a hint*, or `%hint ex-loops-04`" in texts[3]
    assert replies[3].actions == ("Give me a hint",)
    for text in texts:
        assert text.startswith("About your last answer to **Sum of a list**: it was not right")
        assert not leaks(text, exercise.solution)


@pytest.mark.parametrize("exercise", ["ex-loops-04", None])
@pytest.mark.parametrize("message", ["what's wrong with my code?", "why doesn't my function work?"])
def test_what_is_wrong_with_my_code_reviews_the_code_checked_last(
    course, lite_store, message, exercise
):
    """Not right after the check, these got "show me the code you want reviewed" or the
    for-loops passage, though the learner had just checked the code. A right answer checked
    last leaves nothing to review."""
    _act(course, lite_store, "ex-loops-04", answer=WRONG_TOTAL)
    ask("what is a list?", learner_id="ada", course=course, store=lite_store)
    reply = ask(message, learner_id="ada", course=course, store=lite_store, exercise=exercise)
    assert reply.agent == "reviewer" and "return-in-loop" in reply.text
    assert reply.text.startswith("About your last answer to **Sum of a list**: it was not right")
    _act(course, lite_store, "ex-loops-04", answer=course.exercise("ex-loops-04").solution)
    again = ask(message, learner_id="ada", course=course, store=lite_store, exercise=exercise)
    assert "About your last answer" not in again.text and "return-in-loop" not in again.text


def test_the_ladder_of_a_check_goes_on_after_the_concept_and_starts_again_after_a_hint(
    course, lite_store
):
    """What the check found (its diagnosis) is kept with each follow-up: asked after the
    concept and an example, what differs still names the mix-up. A hint opened starts the
    ladder of that hint."""
    exercise = course.exercise("ex-lists-01")
    _act(course, lite_store, exercise.id, answer=4)
    follow_ups = [CONCEPT, "can you show me an example?", "why?", "why?"]
    concept, example, difference, ran_out = _asked_again(
        course, lite_store, follow_ups[0], follow_ups[1:], exercise=exercise.id
    )
    assert concept.text.startswith("About your last answer to **Last index**")
    assert "The concept behind **Last index**, from the course" in concept.text
    assert "a small example on a different problem" in example.text
    assert "a mix-up your instructor expected" in difference.text
    assert "I have gone over your answer to **Last index** every way I have" in ran_out.text
    assert "open the next hint (*Give me a hint*" in ran_out.text  # no hint opened yet
    _act(course, lite_store, exercise.id, kind="hint")
    reworded = ask("why?", learner_id="ada", course=course, store=lite_store, exercise=exercise.id)
    assert f"says:\n\n> {exercise.hints[0]}" in reworded.text
    assert _rungs(lite_store)[-1] == "reworded"


@pytest.mark.parametrize(
    "message",
    [
        "explain the concept behind this exercise",
        "Explain the concept of this exercise",
        "what's the idea behind this exercise?",
    ],
)
def test_a_typed_request_for_the_concept_behind_the_exercise_gets_the_concept(
    course, lite_store, message
):
    """ "explain the concept behind this exercise" went to the content generator (its keyword
    "exercise"), which answered with a practice question; "Explain the concept behind this",
    the button, got the course's section. Typed, it gets the same now: during an exercise, and
    after a hint (through tutor/chat, without the exercise). Practice asked for is still
    practice, and a concept named is that concept."""
    typed = ask(message, learner_id="ada", course=course, store=lite_store, exercise="ex-loops-04")
    assert typed.agent == "assistant"
    assert typed.text.startswith("The concept behind **Sum of a list**, from the course")
    assert typed.sources[0].id.startswith("course:loops#")
    from learnpulse.agents.router import CONCEPT_ROUTING

    assert json.loads(lite_store.query(kinds="tutor_message")["payload"][-1])["routing"] == (
        CONCEPT_ROUTING
    )
    ask("give me a hint", learner_id="ada", course=course, store=lite_store, exercise="ex-loops-04")
    after_hint = ask(message, learner_id="ada", course=course, store=lite_store)
    assert after_hint.agent == "assistant" and after_hint.text == typed.text
    routing = json.loads(lite_store.query(kinds="tutor_message")["payload"][-1])["routing"]
    assert routing == CONCEPT_FOLLOW_UP
    for practice in ("give me a practice question about loops", "generate an exercise",
                     "generate an exercise on the concept behind this"):  # fmt: skip
        reply = ask(practice, learner_id="ada", course=course, exercise="ex-loops-04")
        assert reply.agent == "generator" and "Here is new practice on **loops**" in reply.text
    for exercise in (None, "ex-loops-04"):
        recursion = ask("what is the concept of recursion?", learner_id="ada", course=course,
                        exercise=exercise)  # fmt: skip
        assert recursion.agent in ("assistant", "explorer")
        assert recursion.sources[0].id.startswith("course:recursion#")
        assert "Sum of a list" not in recursion.text
