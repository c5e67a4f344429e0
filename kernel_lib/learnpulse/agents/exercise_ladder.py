"""The ladder of a hint or a checked answer: asked "why?" again and again after opening a hint
or checking an answer that was wrong, the learner got the same reply each time. Each follow-up
now takes the next angle they have not had (:data:`~learnpulse.agents.ladder.EXERCISE_RUNGS`):

- ``reworded``: the hint opened last, put another way from the course passage that explains it
  best (:func:`~learnpulse.agents.follow_ups.hint_again`; once a hint was opened);
- ``difference``: what in the learner's last answer differs from what the exercise asks: the
  question and the answer side by side, and what the kind of mistake the checker found means
  (once an answer was checked wrong; for a code answer checked, the code reviewer's review);
- ``concept``: the concept the exercise practises, from the course, its section cited (the
  answer "Explain the concept behind this" gives);
- ``example``: a small example on a different problem, drawn from the content generator's
  templates (:func:`~learnpulse.agents.generator.practice_exercise`: never one that shows the
  open exercise's code, nor, here, its answer);

then it says it has run out, and offers the next hint or the instructor. A hint opened leads
with the hint put another way, an answer checked with what differs in it. Which angles were
given is read back from the conversation (:func:`~learnpulse.agents.ladder.rungs_given`), as
for an error; a new hint or a new check starts the ladder again.
"""

from __future__ import annotations

import dataclasses
import re
import zlib
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import polars as pl

from learnpulse.agents import ladder
from learnpulse.agents.base import Draft, Source
from learnpulse.agents.follow_ups import CONCEPT_ACTION, last_hint_shown, wants_example
from learnpulse.agents.generator import (
    NAMED_DIFFICULTY,
    SKILLS_WITH_TEMPLATES,
    practice_exercise,
    render,
)
from learnpulse.agents.guardrails import answer_patterns
from learnpulse.agents.learner import history

if TYPE_CHECKING:
    from learnpulse.agents.base import TutorContext
    from learnpulse.course import Exercise

#: Difficulty of the small example on a different problem: an easy one.
EXAMPLE_DIFFICULTY = NAMED_DIFFICULTY["easy"]
#: Seeds tried per skill for an example that does not hold the open exercise's answer.
EXAMPLE_SEEDS = 5
#: Longest answer quoted back to the learner, in characters.
MAX_QUOTED_ANSWER = 80
#: Per diagnosis of the checker (:mod:`learnpulse.course.checking`): what in an answer differs
#: from what the exercise asks, in general words (never the expected answer).
DIFFERENCES = {
    "off_by_one": "your answer is one away from the one asked for. Look at where the counting "
    "starts and where it stops: is the first value included? the last?",
    "sign": "your answer has the right size but the wrong sign: check which value is taken "
    "from which.",
    "scale": "your answer is off by a factor of 100: the question asks for a fraction or a "
    "percentage, and you gave the other one.",
    "close": "your answer is nearly right: the difference is in the rounding or the last step.",
    "misconception": "your answer is a mix-up your instructor expected, and the check's "
    "feedback names it. Find the words of the question that rule it out.",
    "near_miss": "your answer is spelled almost like an accepted one: compare it letter by letter.",
    "not_a_choice": "your answer is not one of the choices: answer with a choice's letter or "
    "its text.",
    "wrong_type": "your answer is not the kind of value the question asks for (a number, a "
    "choice, a short text, or a result of another type).",
    "no_return": "your function gives back nothing (None): the exercise asks it to return its "
    "result, and a `return` is missing or is skipped.",
    "printed": "your function prints its result; the exercise asks it to return it.",
    "wrong_length": "your result has one element too many or too few: look at the bounds of "
    "your loop or range.",
    "wrong_order": "your result has the right elements, in another order than the one asked for.",
    "exception": "your code stops with an error before it gives an answer: that error comes "
    "first (`%explain` explains it).",
    "timeout": "your code never finishes: the condition of a loop never becomes false.",
    "syntax_error": "Python cannot read your code yet, so none of it ran: the check's message "
    "says where.",
    "missing_function": "the checker cannot find the function the exercise asks for, under "
    "that exact name.",
    "failed_assert": "one of the exercise's checks on your code does not hold: the check's "
    "message names it.",
    "broken_rule": "your code gives the right results, but not the way the exercise asks: "
    "re-read what it must, or must not, use.",
    "rules_unchecked": "the checker could not read your code to check the exercise's rules: "
    "run it in a cell that starts with `%%check`.",
}
#: What differs when the checker names no particular kind of mistake, for an answer and for
#: code.
GENERIC_DIFFERENCE = (
    "your answer is not a small slip away from the one asked for: go back to the question word "
    "by word, and work it out again on paper or in a cell."
)
GENERIC_CODE_DIFFERENCE = (
    "your function gives another result than the exercise asks for: call it in a cell on the "
    "input the check names, and print what it holds after each step."
)
_BACKTICKS = re.compile(r"`+")


def on_the_ladder(context: TutorContext) -> bool:
    """Whether ``context`` follows up a hint opened or an answer checked wrong, of the
    exercise in context."""
    follows = context.follows or {}
    act = follows.get("act")
    wrong = act == "attempt" and not follows.get("correct")
    return context.exercise is not None and (act == "hint" or wrong)


def reviewed(follows: Mapping[str, Any], conversation: list[dict[str, Any]]) -> bool:
    """Whether the code answer checked that ``follows`` is about was reviewed already (the
    code reviewer's answer is its ``difference`` rung): the next follow-up takes the next
    rung, with the learning assistant."""
    given = ladder.rungs_given(conversation, act="attempt", item_id=follows.get("item_id", ""))
    return "difference" in given


def answer_checked(context: TutorContext) -> dict[str, Any] | None:
    """The learner's last answer to the exercise in context, if it was checked wrong: the
    check followed up, else the newest in their events (as a history entry). None if none."""
    follows, exercise = context.follows or {}, context.exercise
    if follows.get("act") == "attempt":
        return None if follows.get("correct") else dict(follows)
    return None if exercise is None else newest_wrong_answer(context.events, exercise.id)


def newest_wrong_answer(events: pl.DataFrame, item_id: str | None = None) -> dict[str, Any] | None:
    """The learner's newest answer checked, to ``item_id`` (default: to any exercise), as a
    history entry (:func:`~learnpulse.agents.learner.history`); None if it was right, or if
    ``events`` hold none."""
    if not {"kind", "item_id"} <= set(events.columns):
        return None
    attempts = events.filter(pl.col("kind") == "attempt")
    if item_id is not None:
        attempts = attempts.filter(pl.col("item_id") == item_id)
    newest = history(attempts, 1)
    return newest[0] if newest and not newest[0]["correct"] else None


def last_answer_difference(context: TutorContext) -> Draft | None:
    """What differs between the learner's last answer to the exercise in context and what it
    asks, asked with no check just before ("why was my answer wrong?"); None unless that
    answer was wrong."""
    checked = answer_checked(context)
    if checked is None or context.exercise is None:
        return None
    return _difference(context.exercise, checked, after_check=False)


def exercise_follow_up(
    message: str, context: TutorContext, drafts: Mapping[str, Callable[[], Draft]]
) -> Draft:
    """A follow-up of a hint or of an answer checked wrong, from the next rung of the ladder
    the learner has not had (the example first, if they asked for one); once all were given,
    a reply that says so and offers the next hint or the instructor.

    Parameters
    ----------
    message : str
        The follow-up ("why?", "I still don't get it", "can you show an example?").
    context : TutorContext
        With the exercise and what the follow-up is about (:func:`on_the_ladder`).
    drafts : mapping of str to callable
        The rungs the learning assistant writes itself, ``reworded`` and ``concept``: each
        called only if taken.

    Returns
    -------
    Draft
        Its ``payload["rung"]`` is the rung taken; its first note tells a language model the
        angles already taken.
    """
    exercise, follows = context.exercise, context.follows or {}
    assert exercise is not None
    checked, example = answer_checked(context), _example(context)
    after_check = follows.get("act") == "attempt"
    # a hint leads with itself put another way, a check with what differs in the answer
    order = ["difference", "reworded"] if after_check else ["reworded", "difference"]
    can = {
        "reworded": last_hint_shown(context) > 0,
        "difference": checked is not None,
        ladder.CONCEPT: True,
        "example": example is not None,
    }
    available = [r for r in [*order, ladder.CONCEPT, "example"] if can[r]]
    given = ladder.rungs_given(context.history, act=follows.get("act", ""), item_id=exercise.id)
    rung = ladder.next_rung(given, available, wants_example(message))
    subject = _subject(context, after_check)
    said = ladder.said(ladder.EXERCISE_RUNGS, given)
    if rung == ladder.RAN_OUT:
        return _ran_out(context, subject, said, checked is not None)
    if rung == "difference":
        assert checked is not None
        draft = _difference(exercise, checked, after_check)
    elif rung == "example":
        assert example is not None
        draft = _example_draft(exercise, example)
    else:
        draft = drafts[rung]()
    earlier = f" (already gone over: {ladder.listed(said)})" if said else ""
    note = (
        f"The learner asks again about {subject}{earlier}. Go over it "
        f"{ladder.EXERCISE_RUNGS[rung]}; do not repeat what was said, and never give the solution."
    )
    actions = ("I still don't get it", *hint_action(context))
    if ladder.CONCEPT not in [*given, rung]:
        actions += (CONCEPT_ACTION,)
    # each rung names what it is about (a check's reply is led by what the check said)
    return dataclasses.replace(
        draft,
        text=draft.text + ladder.still_unclear(available, given),
        actions=actions,
        notes=(note, *draft.notes),
        payload={**draft.payload, "rung": rung},
    )


def _subject(context: TutorContext, after_check: bool) -> str:
    """What the follow-up is about, in markdown ("the hint you opened last for **Sum of a
    list**")."""
    exercise = context.exercise
    assert exercise is not None
    if after_check:
        return f"your answer to **{exercise.title}**"
    if last_hint_shown(context):
        return f"the hint you opened last for **{exercise.title}**"
    return f"**{exercise.title}**"


def hint_action(context: TutorContext) -> tuple[str, ...]:
    """The suggested follow-up opening the next hint; none if no hint is left to open."""
    exercise = context.exercise
    assert exercise is not None
    if context.hints_used >= exercise.hint_limit:
        return ()
    return ("Another hint" if context.hints_used else "Give me a hint",)


def _quoted(text: str) -> str:
    """``text`` as a markdown quote."""
    return "> " + text.strip().replace("\n", "\n> ")


def _difference(exercise: Exercise, checked: dict[str, Any], after_check: bool) -> Draft:
    """The exercise's question and the learner's answer side by side, and what the kind of
    mistake the checker found means; with what the check said, unless the reply is a check's
    follow-up (led by it)."""
    code = bool(checked.get("code"))
    generic = GENERIC_CODE_DIFFERENCE if code else GENERIC_DIFFERENCE
    differs = DIFFERENCES.get(checked.get("diagnosis") or "", generic)
    first = "Put your answer next to what the exercise asks."
    if not after_check:
        first = f"Your last answer to **{exercise.title}** was not right yet. {first}"
    lines = [first, "**The exercise asks:**", _quoted(exercise.prompt)]
    answer = _BACKTICKS.sub("'", str(checked.get("answer") or ""))[:MAX_QUOTED_ANSWER]
    if code:
        lines.append("**Your code:** the one you checked last.")
    elif answer.strip():
        lines.append(f"**You answered:** `{answer.strip()}`")
    feedback = checked.get("feedback") or ""
    if not after_check and feedback:
        lines.append(f"**The check said:** {feedback}")
    lines.append(f"**What differs:** {differs}")
    lines.append(
        "Which part of the question does your answer not meet yet? Change that one thing, then "
        "check again."
    )
    source = Source(f"exercise:{exercise.id}/check", f"{exercise.title}: the check's feedback")
    return Draft("\n\n".join(lines), (source,), 0.8, notes=(feedback,) if feedback else ())


def _example(context: TutorContext) -> Exercise | None:
    """A small practice exercise on a skill of the exercise in context, from the content
    generator's templates: one that shows neither the exercise's code (the generator's own
    guard) nor its answer. None if no template practises its skills."""
    exercise = context.exercise
    assert exercise is not None
    answers = answer_patterns(exercise)
    seed = zlib.crc32(f"{context.learner_id}|{exercise.id}".encode())
    for skill in (s for s in exercise.skills if s in SKILLS_WITH_TEMPLATES):
        for n in range(EXAMPLE_SEEDS):
            found = practice_exercise(skill, EXAMPLE_DIFFICULTY, seed + n, context)
            if found is None:  # every template of the skill shows the exercise's code
                break
            if not any(pattern.search(render(found)) for pattern in answers):
                return found
    return None


def _example_draft(exercise: Exercise, example: Exercise) -> Draft:
    """``example`` as a small problem to work out before going back to ``exercise``."""
    text = (
        f"Here is a small example on a different problem that practises the same idea as "
        f"**{exercise.title}** (it is not your exercise, and its answer is not yours). Work "
        f"it out first, then check it with `%exercise {example.id}`.\n\n{render(example)}\n\n"
        f"Then go back to **{exercise.title}** and use the same idea there."
    )
    skill = example.skill
    source = Source(f"generator:{skill}", f"learnpulse exercise templates: {skill}")
    # "exercises": code of a new exercise's question, shown as the generator's is
    return Draft(text, (source,), 0.7, payload={"exercises": [example.id], "skill": skill})


def _ran_out(context: TutorContext, subject: str, said: list[str], checked: bool) -> Draft:
    """What the tutor says once every rung was given: that it has run out, and what to do
    next (the next hint, if one is left; the instructor)."""
    exercise = context.exercise
    assert exercise is not None
    went_over = (
        f"I have gone over {subject} every way I have: {ladder.listed(said)}."
        if said
        else f"I have no other way to explain {subject}."
    )
    action = hint_action(context)
    instructor = (
        f"show your instructor {'your answer' if checked else 'the exercise'} and what you "
        "tried: working through it with someone helps."
    )
    if action:
        offer = (
            f"Next, open the next hint (*{action[0]}*, or `%hint {exercise.id}` in a cell): it "
            f"takes you one step further without giving the answer away. Or {instructor}"
        )
    else:
        offer = f"There is no hint left to open for **{exercise.title}**: next, {instructor}"
    note = (
        f"Every way of going over {subject} was given ({ladder.listed(said)}): say so, and "
        "suggest the next hint or asking the instructor; do not explain it again, and never "
        "give the solution."
    )
    actions = action or ("Show me the course topics",)
    text = f"{went_over} Saying it again would not help. {offer}"
    source = Source(f"exercise:{exercise.id}/hints", f"{exercise.title}: hint ladder")
    return Draft(text, (source,), 0.8, actions, (note,), {"rung": ladder.RAN_OUT})
