"""The frames the dashboards draw, from :func:`learnpulse.analytics.course_overview`.

The numbers are computed once, by :mod:`learnpulse.analytics` (in this process, or in the
server behind ``GET analytics/dashboard``); this module only reshapes that overview, or its
JSON form, into what the components take: KPI rows with labels and units, a daily series,
popular topics and tutor usage, with shares turned into percentages for display.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import polars as pl

from learnpulse.analytics import RANGES

#: The range a dashboard opens on.
DEFAULT_RANGE = "month"
#: The selectable ranges, shortest first.
RANGE_NAMES: tuple[str, ...] = tuple(RANGES)

#: KPI id -> (label shown on the card, unit); the order is the order of the cards.
KPI_LABELS: dict[str, tuple[str, str]] = {
    "active_learners": ("Active learners", "learners"),
    "sessions": ("Sessions", "sessions"),
    "avg_session_minutes": ("Avg. session length", "min"),
    "accuracy": ("Accuracy until solved", "%"),  # each exercise's attempts until solved
    "at_risk": ("At risk", "learners"),
}
#: KPIs given as shares (0-1) by the analytics and shown as percentages.
SHARE_KPIS = frozenset({"accuracy"})
#: Columns of the popular topics shown besides the skill.
TOPIC_MEASURES = ("events", "attempts", "learners", "accuracy")
_KPI_SCHEMA = {
    "kpi": pl.String,
    "label": pl.String,
    "unit": pl.String,
    "value": pl.Float64,
    "previous": pl.Float64,
    "change": pl.Float64,
}


def kpi_rows(kpis: pl.DataFrame) -> pl.DataFrame:
    """KPI rows for the cards: ``kpi``, ``label``, ``unit``, ``value``, ``previous``,
    ``change``; one row per :data:`KPI_LABELS` entry, in its order (null when not given)."""
    given = {row["kpi"]: row for row in kpis.to_dicts()}
    rows = []
    for kpi, (label, unit) in KPI_LABELS.items():
        row = given.get(kpi, {})
        scale = 100.0 if kpi in SHARE_KPIS else 1.0
        values = [row.get(k) for k in ("value", "previous", "change")]
        rows.append((kpi, label, unit, *[None if v is None else v * scale for v in values]))
    return pl.DataFrame(rows, schema=_KPI_SCHEMA, orient="row")


def _pick(frame: pl.DataFrame, columns: dict[str, str], percent: str | None = None) -> pl.DataFrame:
    """``frame``'s columns renamed (new name -> old name); a share column made a percentage.

    An empty frame (e.g. from JSON ``[]``) gives an empty frame with the new names.
    """
    if frame.is_empty() and not set(columns.values()) <= set(frame.columns):
        return pl.DataFrame({name: [] for name in columns})
    picked = frame.select(pl.col(old).alias(new) for new, old in columns.items())
    if percent is not None:
        picked = picked.with_columns(pl.col(percent) * 100)
    return picked


def summary_from_overview(overview: dict[str, Any]) -> dict[str, Any]:
    """What the instructor dashboard draws, from a :func:`course_overview` result.

    Returns
    -------
    dict
        ``period`` (dict with ``start``, ``end``), ``kpis`` (:func:`kpi_rows`), ``daily``
        (``date``, ``sessions``, ``active_learners``, ``avg_session_minutes``, ``accuracy`` %),
        ``topics`` (``skill``: the course's name for it, ``skill_id``, ``events``, ``attempts``,
        ``learners``, ``accuracy`` %), ``skill_names`` (dict of skill id -> name, for the
        skills the course names), ``tutor_questions``
        (``date``, ``questions``: learners' messages to the tutor, not its replies),
        ``tutor_agents`` (``agent``, ``messages``: learners' messages) and ``hint_levels``
        (``level``, ``hints``).
    """
    tutor = overview["tutor"]
    daily = ("date", "sessions", "active_learners", "avg_session_minutes", "accuracy")
    # Topics by the course's name for them (the id where it gives none).
    topics = {"skill": "name", "skill_id": "skill", **{c: c for c in TOPIC_MEASURES}}
    return {
        "period": overview["period"],
        "kpis": kpi_rows(overview["kpis"]),
        "daily": _pick(overview["daily"], {c: c for c in daily}, percent="accuracy"),
        "topics": _pick(overview["popular_skills"], topics, percent="accuracy"),
        "skill_names": overview.get("skill_names", {}),
        "tutor_questions": _pick(tutor["daily"], {"date": "date", "questions": "questions"}),
        "tutor_agents": _pick(tutor["agents"], {"agent": "agent", "messages": "learner_messages"}),
        "hint_levels": _pick(tutor["hint_levels"], {"level": "level", "hints": "hints"}),
    }


def _records(rows: list[dict[str, Any]], dates: tuple[str, ...] = ()) -> pl.DataFrame:
    frame = pl.DataFrame(rows, infer_schema_length=None)
    for column in dates:
        if column in frame.columns:
            frame = frame.with_columns(pl.col(column).str.to_date())
    return frame


def _period(body: dict[str, Any] | None) -> dict[str, Any] | None:
    if body is None:
        return None
    parsed = dict(body)
    for key in ("start", "end"):
        parsed[key] = datetime.fromisoformat(body[key])
    for key in ("first_day", "last_day"):
        if key in body:
            parsed[key] = date.fromisoformat(body[key])
    return parsed


def overview_from_json(body: dict[str, Any]) -> dict[str, Any]:
    """A :func:`course_overview` result back from its JSON form (``GET analytics/dashboard``)."""
    tutor = body["tutor"]
    return {
        **body,
        "period": _period(body["period"]),
        "previous_period": _period(body.get("previous_period")),
        "kpis": _records(body["kpis"]),
        "daily": _records(body["daily"], ("date",)),
        "popular_skills": _records(body["popular_skills"]),
        "popular_items": _records(body.get("popular_items", [])),
        "tutor": {
            "daily": _records(tutor["daily"], ("date",)),
            "agents": _records(tutor["agents"]),
            "hint_levels": _records(tutor["hint_levels"]),
        },
    }
