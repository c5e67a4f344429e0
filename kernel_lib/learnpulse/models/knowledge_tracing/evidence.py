"""Which attempts are evidence of mastery: the one rule the live session and the models share.

A learner may check an exercise as often as they like, but answering the one they already
solved again says nothing new about what they know: counted, every repeat of a right answer
raised P(known), and two repeats took a skill from the prior to "Mastered". Knowledge tracing
therefore reads a learner's attempts at each item (in time order) like this:

1. Attempts until the item is first answered correctly count: a wrong answer as wrong, the
   correct one as correct. A retry after feedback is a new answer of the learner's own (the
   fitted BKT's guess absorbs how much feedback helps, since it is fitted on these same
   attempts); counting only first attempts, as ASSISTments does, would leave a learner who
   missed a skill's first exercise no way to show mastery on a course with two or three
   exercises per skill.
2. The correct answer counts as *wrong* if the learner had opened the item's whole hint
   ladder first: its last rung is a worked step toward the answer, and a bottom-out hint marks
   a step as not known unaided in ASSISTments and the Cognitive Tutors. Fewer hints are
   nudges: the answer still counts as correct.
3. Once an item is solved, later attempts at it are practice and count neither way. A right
   one repeats an answer the learner has seen marked right, with its explanation; a wrong one
   is more often an experiment with solved code than forgetting, and counting only the wrong
   repeats would make practice a trap that can only lower mastery.

So an item gives knowledge tracing at most one correct observation. The rule needs only the
events: the attempt's ``hints_used`` and the ladder's length, which the widgets record in the
attempt's payload as :data:`HINT_LADDER_KEY` (attempts without it, e.g. imported or simulated
ones, count hints as nudges). Items named by the DKT text format's stand-ins
(:data:`~learnpulse.events.STAND_IN_ITEM_PREFIX` + skill id: the format keeps one first
attempt per problem and no problem ids) and attempts without an item are never repeats.

:func:`counted_outcome` is the rule for one attempt (the live session, attempt by attempt);
:func:`learnpulse.features.with_evidence` marks it on an event frame, in the one place every
frame-based measure reads it from (accuracy, the score, the rules, readiness, the analytics),
and :func:`evidence_attempts` keeps the attempts it counts for the models (mastery, its fit,
learning velocity, DKT's mastery), with the same result.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import polars as pl

from learnpulse.events import HINT_LADDER_KEY, STAND_IN_ITEM_PREFIX
from learnpulse.features import COUNTED_CORRECT, with_evidence

__all__ = [
    "HINT_LADDER_KEY",
    "bottom_out",
    "counted_outcome",
    "evidence_attempts",
    "hint_ladder_of",
    "tracks_repeats",
]


def tracks_repeats(item_id: str | None) -> bool:
    """Whether attempts at ``item_id`` can be repeats of a solved item (False for no item and
    for the DKT format's per-skill stand-ins, whose every row is a new problem)."""
    return bool(item_id) and not item_id.startswith(STAND_IN_ITEM_PREFIX)


def bottom_out(hints_used: int | None, hint_ladder: int | None) -> bool:
    """Whether the learner had opened every hint of a ladder of ``hint_ladder`` (unknown:
    None, or no ladder: never)."""
    if hint_ladder is None or hint_ladder <= 0 or hints_used is None:
        return False
    return hints_used >= hint_ladder


def counted_outcome(
    correct: bool,
    *,
    solved_before: bool,
    hints_used: int | None = None,
    hint_ladder: int | None = None,
) -> bool | None:
    """How one attempt counts as evidence of knowing its skills (see the module docstring).

    Parameters
    ----------
    correct : bool
        Whether the answer was right.
    solved_before : bool
        Whether the learner had answered the same item correctly before (always False for an
        item where :func:`tracks_repeats` is False).
    hints_used : int, optional
        Hints of the item opened before the answer.
    hint_ladder : int, optional
        Length of the item's hint ladder (None: unknown).

    Returns
    -------
    bool or None
        The observation knowledge tracing reads (True: right unaided), or None: practice on
        a solved item, not evidence.
    """
    if solved_before:
        return None
    return bool(correct) and not bottom_out(hints_used, hint_ladder)


def hint_ladder_of(payload: Any) -> int | None:
    """The :data:`HINT_LADDER_KEY` of an attempt's payload (a dict or its JSON), or None.

    An integer, or a string of digits (as :func:`evidence_attempts` reads JSON); anything
    else is no ladder length.
    """
    if isinstance(payload, str):
        import json

        try:
            payload = json.loads(payload)
        except ValueError:
            return None
    value = payload.get(HINT_LADDER_KEY) if isinstance(payload, dict) else None
    if isinstance(value, str) and value.isascii() and value.isdigit():
        return int(value)
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def evidence_attempts(events: pl.DataFrame, columns: Sequence[str] | None = None) -> pl.DataFrame:
    """The graded attempts of ``events`` that are evidence, with ``correct`` as they count.

    Parameters
    ----------
    events : polars.DataFrame
        An event frame (needs ``learner_id``, ``ts``, ``kind``, ``correct``; ``item_id``,
        ``hints_used`` and ``payload`` are read when present), marked by
        :func:`~learnpulse.features.with_evidence` or not.
    columns : sequence of str, optional
        Only these columns (of ``events``): a wide frame's other columns are not copied.

    Returns
    -------
    polars.DataFrame
        The ``attempt`` rows with a known ``correct``, in input order, without the practice
        on solved items; ``correct`` is False where the answer was right after the whole hint
        ladder (the columns and dtypes of ``events``, or ``columns``).
    """
    counted = (
        with_evidence(events)
        .lazy()
        .filter(pl.col(COUNTED_CORRECT).is_not_null())
        .with_columns(correct=pl.col(COUNTED_CORRECT).cast(events.schema["correct"]))
    )
    if columns is None:
        columns = list(events.columns)  # the mark stays only if the caller's frame had it
    return counted.select(columns).collect()
