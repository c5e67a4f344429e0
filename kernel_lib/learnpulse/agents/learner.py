"""What the tutor knows about a learner: events, mastery, conversation history, hints opened.

Mastery comes from :func:`learnpulse.models.mastery.course_mastery` (by default a BKT at its
prior parameters, or a model fitted on the class); a learner without attempts has an empty
mastery frame and the agents treat every skill as new.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
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


#: What a learner does outside the chat that the tutor may be asked about ("why?" after a
#: hint or a check): these events are learner entries of the conversation history.
ACTS = ("hint", "attempt")
#: Keys a ``tutor_message`` payload may add to its history entry: of a learner's, what it
#: followed up (``act``, and of a checked answer ``correct``, ``feedback``, ``diagnosis``,
#: ``answer``) and whether the code stored with it was cut (``code_cut``); of a tutor's, the
#: angle its explanation took (``rung``, see :mod:`learnpulse.agents.ladder`).
FOLLOW_UP_KEYS = (
    "act", "correct", "feedback", "diagnosis", "answer", "code_cut", "rung", "topics",
    "small_talk",
)  # fmt: skip


def history(events: pl.DataFrame, limit: int = HISTORY_MESSAGES) -> list[dict[str, Any]]:
    """The last ``limit`` entries of the learner's conversation with the tutor, oldest first.

    A tutor message is ``{"role", "text", "agent", "item_id", "code", "error"}``: ``code`` is
    the code a learner's message asked about (the cell or function of ``%review`` or
    ``%explain``, a fenced block) and ``error`` the exception explained, as the end of a
    traceback (:func:`learnpulse.agents.errors.error_record`), ``""`` if none; a follow-up
    of them carries them again, and the keys of :data:`FOLLOW_UP_KEYS` it followed up.

    A hint opened (with the Hint button or ``%hint``) or an answer checked (``%%check``, the
    exercise widget), when ``events`` hold them, is a learner entry with no text and ``act``
    ``"hint"`` (with ``hint_level``) or ``"attempt"`` (with ``correct``, ``feedback``,
    ``diagnosis`` (the kind of mistake the checker found, ``""`` if not stored), ``answer``
    and, for code, ``code``): a follow-up ("why?") is about it.
    """
    kind = pl.col("kind")
    wanted = (kind == "tutor_message") | (kind.is_in(ACTS) & pl.col("item_id").is_not_null())
    rows = events.filter(wanted).tail(limit)
    found = []
    for row in rows.select("kind", "payload", "item_id", "correct", "hints_used").iter_rows():
        found.append(_entry(*row))
    return found


def _entry(
    kind: str, payload: str | None, item: str | None, correct: bool | None, hints: int | None
) -> dict[str, Any]:
    """One event of :func:`history` as its entry."""
    body = json.loads(payload) if payload else {}
    if not isinstance(body, dict):
        body = {}
    entry: dict[str, Any] = {
        "role": body.get("role", "learner") if kind == "tutor_message" else "learner",
        "text": body.get("text", "") if kind == "tutor_message" else "",
        "agent": body.get("agent", "") if kind == "tutor_message" else "",
        "item_id": item or "",
        "code": body.get("code") or "",
        "error": body.get("error") or "",
    }
    if kind == "tutor_message":
        entry.update({k: body[k] for k in FOLLOW_UP_KEYS if k in body})
    elif kind == "hint":
        entry.update(act="hint", hint_level=hints or 0)
    else:
        answer = str(body.get("answer") or "")
        entry.update(
            act="attempt", correct=bool(correct), feedback=str(body.get("feedback") or ""),
            diagnosis=str(body.get("diagnosis") or ""), answer=answer,
            code=answer if body.get("type") == "code" else "",
            code_cut=bool(body.get("answer_cut")),
        )  # fmt: skip
    return entry


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


def solved(events: pl.DataFrame, exercise_id: str) -> bool:
    """Whether the learner's ``events`` hold a right answer to ``exercise_id``."""
    if events.is_empty():
        return False
    answered = events.filter(
        (pl.col("kind") == "attempt") & (pl.col("item_id") == exercise_id) & pl.col("correct")
    )
    return not answered.is_empty()


def unsolved_exercises(
    events: pl.DataFrame, exercises: Iterable[str], kinds: tuple[str, ...] = ("attempt",)
) -> pl.DataFrame:
    """The course ``exercises`` the learner worked on (events of ``kinds``: attempts, hints)
    and never answered right, latest first.

    Returns
    -------
    polars.DataFrame
        One row per exercise: ``item_id``, ``n_wrong`` (wrong answers), ``ts`` and ``payload``
        of the latest event.
    """
    columns = {"item_id": pl.String, "n_wrong": pl.UInt32, "ts": pl.Datetime, "payload": pl.String}
    if events.is_empty() or not {"kind", "item_id", "correct", "ts"} <= set(events.columns):
        return pl.DataFrame(schema=columns)
    worked = events.filter(pl.col("kind").is_in(kinds) & pl.col("item_id").is_in(list(exercises)))
    payload = pl.col("payload") if "payload" in worked.columns else pl.lit(None, pl.String)
    return (
        worked.sort("ts")
        .group_by("item_id")
        .agg(
            solved=pl.col("correct").fill_null(False).any(),
            n_wrong=(pl.col("correct") == False).sum(),  # noqa: E712 (a column, not a bool)
            ts=pl.col("ts").last(),
            payload=payload.last(),
        )
        .filter(~pl.col("solved"))
        .drop("solved")
        .sort("ts", descending=True)
    )
