"""Course content that is valid but likely a mistake, which validation warns about
(:class:`~learnpulse.course.model.CourseWarning`): a hint ladder that gives away the reference
solution, a ``max_hint_level`` above the number of hints.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from learnpulse.course.model import Exercise


def hint_code(hint: str) -> list[str]:
    """What of a hint might be read as code, for the leak check: its code segments, the hint
    whole, and its clauses (hints chain steps with "; ", " — " or ", then ")."""
    # imported here: learnpulse.agents imports this package
    from learnpulse.agents.guardrails import code_segments

    clauses = re.split(r";\s*|\s+—\s+|,\s+then\s+", hint)
    return [code for _, _, code in code_segments(hint)] + [hint, *clauses]


def _hint_leak(exercise: Exercise, where: str) -> list[tuple[str, str, str]]:
    """A warning when a code exercise's hints reproduce its reference solution as much as
    the tutor's leak check withholds in a reply: the Hint button would show it to students."""
    if exercise.type != "code" or not exercise.solution.strip():
        return []
    from learnpulse.agents.guardrails import LEAK_COVERAGE, coverage

    advice = f"(the tutor withholds code from {LEAK_COVERAGE:.0%}): say what to do, not the code"
    pieces = [hint_code(hint) for hint in exercise.hints]
    for number, code in enumerate(pieces):
        share = coverage(code, exercise.solution)
        if share >= LEAK_COVERAGE:
            what = f"the hint gives away {share:.0%} of the reference solution"
            return [(where, f"hints[{number}]", f"{what} {advice}")]
    share = coverage([code for piece in pieces for code in piece], exercise.solution)
    if share >= LEAK_COVERAGE:
        what = f"together the hints give away {share:.0%} of the reference solution"
        return [(where, "hints", f"{what} {advice}")]
    return []


def likely_mistakes(exercises: Iterable[Exercise]) -> list[tuple[str, str, str]]:
    """``(where, field, message)`` of content that is valid but likely a mistake, for
    :class:`~learnpulse.course.model.CourseWarning`."""
    found = []
    for exercise in exercises:
        where = f"exercise {exercise.id!r}"
        level, count = exercise.policy.max_hint_level, len(exercise.hints)
        if level is not None and level > count:
            found.append(
                (
                    where,
                    "policy.max_hint_level",
                    f"{level} is more than the {count} hint(s) of the ladder, so it limits "
                    "nothing: lower it, add hints, or leave it out to allow every hint",
                )
            )
        found += _hint_leak(exercise, where)
    return found
