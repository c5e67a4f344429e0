"""What the learner got wrong: the reply to "what did I get wrong?" or "where did I go wrong?".

Before, these were taken for too vague a question ("Happy to help! Tell me a bit more"). Now
:func:`mistakes_draft` lists the exercises the learner answered wrong and has not solved since,
latest first, with how many wrong answers each had and what the check said last (never the
expected answer: the check's feedback does not give it), and the way on. With an exercise open
that the learner last answered wrong, the learning assistant answers with what differs in that
answer instead (:func:`~learnpulse.agents.exercise_ladder.last_answer_difference`), as it does
right after the check.
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING

import polars as pl

from learnpulse.agents.base import Draft, Source
from learnpulse.agents.learner import unsolved_exercises

if TYPE_CHECKING:
    from learnpulse.agents.base import TutorContext

#: Exercises listed (at most).
N_MISTAKES = 5
#: Longest check feedback quoted, in characters.
MAX_FEEDBACK = 200
_MISTAKES = re.compile(
    r"\bwhat (did|have|do) i (get|got|do|done) wrong\b|\bwhere (did|do) i go wrong\b"
    r"|\bmy (mistakes|errors|wrong answers)\b|\bwhat am i getting wrong\b"
    r"|\bwhich (ones|exercises|questions) (did|do) i (get wrong|miss|fail)\b"
    r"|\bwhat(?:'s| is)? (wrong|different) (with|in|about) my (answer|code)\b"
    r"|\bwhat differs in my (answer|code)\b|\bwhy (is|was) my (answer|code) (wrong|not right)",
    re.I,
)


_OWN_CODE = r"\bmy (code|function|solution|program)\b"
#: "Why doesn't my code work?", "my function does not pass".
_CODE_FAILS = re.compile(
    rf"\bwhy (doesn'?t|does not|won'?t|isn'?t|is not|can'?t) {_OWN_CODE[2:]}"
    rf"|{_OWN_CODE} (doesn'?t|does not|won'?t|isn'?t|is not) (work|pass|run|right|correct)",
    re.I,
)


def asks_about_mistakes(message: str) -> bool:
    """Whether ``message`` asks what the learner got wrong ("what did I get wrong?")."""
    return bool(_MISTAKES.search(message))


def asks_about_own_code(message: str) -> bool:
    """Whether ``message`` asks what is wrong with the learner's code ("what's wrong with my
    code?", "why doesn't my function work?")."""
    mistake = asks_about_mistakes(message) and re.search(_OWN_CODE, message, re.I)
    return bool(mistake or _CODE_FAILS.search(message))


def mistakes_draft(context: TutorContext) -> Draft:
    """The exercises answered wrong and not solved since, latest first (see module)."""
    course = context.course
    worked = unsolved_exercises(context.events, course.exercises if course else ())
    wrong = worked.filter(pl.col("n_wrong") > 0)
    if wrong.is_empty():
        answered = _answered_any(context)
        text = (
            "Nothing is wrong and unsolved: every exercise you answered wrong, you solved later."
            if answered
            else "You have not answered an exercise yet, so there is nothing wrong to go over."
        )
        return Draft(text, (), 0.7, ("What should I do next?",))
    lines = ["Your answers that are not right yet, latest first:", ""]
    for number, row in enumerate(wrong.head(N_MISTAKES).iter_rows(named=True), 1):
        exercise = course.exercises[row["item_id"]]
        said = _feedback(row["payload"])
        check = f"; the check said: *{said}*" if said else ""
        times = "1 wrong answer" if row["n_wrong"] == 1 else f"{row['n_wrong']} wrong answers"
        lines.append(f"{number}. **{exercise.title}** (`{exercise.id}`): {times}{check}")
    first = wrong.get_column("item_id")[0]
    lines += [
        "",
        f"Open one (`%exercise {first}`) and ask *what differs in my answer?* or for a hint: "
        "I go through it with you, without giving the answer away.",
    ]
    sources = (Source("model:attempts", "Your checked answers"),)
    return Draft("\n".join(lines), sources, 0.8, (f"Explain {first}", "What should I do next?"))


def _answered_any(context: TutorContext) -> bool:
    """Whether the learner has a checked answer to an exercise of the course."""
    events, course = context.events, context.course
    if course is None or events.is_empty() or "item_id" not in events.columns:
        return False
    answers = (pl.col("kind") == "attempt") & pl.col("correct").is_not_null()
    return events.filter(answers & pl.col("item_id").is_in(list(course.exercises))).height > 0


def _feedback(payload: str | None) -> str:
    """The check's feedback in an attempt's JSON payload, shortened ("" if none)."""
    try:
        said = json.loads(payload).get("feedback") if payload else None
    except (ValueError, AttributeError):  # not JSON, or not an object
        return ""
    said = " ".join(str(said or "").split()).replace("*", "")
    return said if len(said) <= MAX_FEEDBACK else said[: MAX_FEEDBACK - 1] + "…"
