"""What the tutor knows about a learner: events, mastery, conversation history, hints opened.

Mastery comes from :func:`learnpulse.models.mastery.course_mastery` (by default a BKT at its
prior parameters, or a model fitted on the class); a learner without attempts has an empty
mastery frame and the agents treat every skill as new.
"""

from __future__ import annotations

import json
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import polars as pl

from learnpulse.models.thresholds import MASTERY_THRESHOLD

if TYPE_CHECKING:
    from learnpulse.store import EventStore

#: Earlier messages (learner and tutor) loaded as conversation history.
HISTORY_MESSAGES = 20
#: Mastery levels the agents speak to, by P(known): at least the bound -> the level.
LEVELS: tuple[tuple[float, str], ...] = ((0.8, "advanced"), (0.5, "intermediate"))
#: Level of a skill with P(known) below every bound, or with no evidence.
FIRST_LEVEL = "beginner"


def level_of(p_known: float | None) -> str:
    """``"beginner"``, ``"intermediate"`` or ``"advanced"`` for a P(known) (None = no evidence)."""
    if p_known is None:
        return FIRST_LEVEL
    return next((name for bound, name in LEVELS if p_known >= bound), FIRST_LEVEL)


def learner_events(
    store: EventStore | None, learner_id: str, course_id: str | None
) -> pl.DataFrame:
    """The learner's events in the course (all courses if ``course_id`` is None)."""
    if store is None:
        from learnpulse.events import empty_event_frame

        return empty_event_frame()
    return store.query(course=course_id, learners=learner_id)


@lru_cache(maxsize=1)
def prior_mastery_model() -> Any:
    """A BKT at its textbook starting parameters: traces one learner in milliseconds, with no
    class data to fit on. Pass a model fitted on the class for sharper estimates."""
    from learnpulse.events import empty_event_frame
    from learnpulse.models.mastery import fit_mastery_model

    return fit_mastery_model(empty_event_frame())


def learner_mastery(
    events: pl.DataFrame, model: Any = None, mastery_threshold: float = MASTERY_THRESHOLD
) -> pl.DataFrame:
    """Mastery rows (``learner_id``, ``skill``, ``p_known``, ``label``, ...) from ``events``.

    Parameters
    ----------
    events : polars.DataFrame
        The learner's events.
    model : fitted BKT or DKT, optional
        Default :func:`prior_mastery_model`.
    mastery_threshold : float
        P(known) from which a skill is mastered (the course's).

    Returns
    -------
    polars.DataFrame
        :func:`learnpulse.models.mastery.course_mastery` rows; empty without graded attempts.
    """
    from learnpulse.models.mastery import course_mastery

    attempts = events.filter((pl.col("kind") == "attempt") & pl.col("correct").is_not_null())
    if attempts.is_empty():
        return pl.DataFrame()
    model = model if model is not None else prior_mastery_model()
    return course_mastery(attempts, model=model, mastery_threshold=mastery_threshold)


def history(events: pl.DataFrame, limit: int = HISTORY_MESSAGES) -> list[dict[str, str]]:
    """The last ``limit`` tutor messages, oldest first: ``{"role", "text", "agent", "item_id",
    "code", "error"}``; ``code`` is the code a learner's message asked about (the cell or
    function of ``%review`` or ``%explain``) and ``error`` the exception explained
    (``"KeyError: 'x'"``), ``""`` if none."""
    messages = events.filter(pl.col("kind") == "tutor_message").tail(limit)
    found = []
    for payload, item in zip(
        messages.get_column("payload"), messages.get_column("item_id"), strict=True
    ):
        body = json.loads(payload) if payload else {}
        found.append(
            {
                "role": body.get("role", "learner"),
                "text": body.get("text", ""),
                "agent": body.get("agent", ""),
                "item_id": item or "",
                "code": body.get("code") or "",
                "error": body.get("error") or "",
            }
        )
    return found


def hints_opened(events: pl.DataFrame, exercise_id: str) -> int:
    """Hints of ``exercise_id`` the learner opened (hint events from the exercise widget, or
    hints the tutor gave, recorded as ``payload.hint_level`` of tutor messages)."""
    item = events.filter(pl.col("item_id") == exercise_id)
    widget = item.filter(pl.col("kind") == "hint").height
    levels = [
        json.loads(p).get("hint_level", 0)
        for p in item.filter(pl.col("kind") == "tutor_message").get_column("payload")
        if p
    ]
    return max(widget, *levels) if levels else widget
