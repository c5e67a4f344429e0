"""The course overview: what an instructor's dashboard shows for one period."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import polars as pl

from learnpulse.analytics.measures import (
    ANALYTICS_COLUMNS,
    IS_ACTIVITY,
    IS_COUNTED,
    IS_COUNTED_RIGHT,
    IS_GRADED_ATTEMPT,
    MEASURES,
    TOTALS,
    accuracy,
    bucket_totals,
    event_window,
    measures_of,
    session_table,
)
from learnpulse.analytics.periods import Period, period_for, require_event_columns, resolve_at

#: Rows in ``popular_skills`` / ``popular_items``: the most active topics of the period.
TOP_TOPICS = 10
#: ``agent`` value of tutor messages whose payload names no agent.
UNSPECIFIED_AGENT = "unspecified"
#: The measures compared with the previous period in ``kpis`` (plus ``at_risk`` when given).
KPI_MEASURES: tuple[str, ...] = ("active_learners", "sessions", "avg_session_minutes", "accuracy")
_KPI_SCHEMA = {
    "kpi": pl.String,
    "value": pl.Float64,
    "previous": pl.Float64,
    "change": pl.Float64,
    "change_pct": pl.Float64,
}


def _day_grid(first: date, last: date) -> pl.DataFrame:
    return pl.DataFrame({"bucket": pl.date_range(first, last, "1d", eager=True)})


def _topics(in_period: pl.LazyFrame, column: str, name: str) -> pl.LazyFrame:
    """The TOP_TOPICS values of ``column`` with most activity events in the period."""
    attempts = IS_GRADED_ATTEMPT.sum()
    rows = in_period.filter(IS_ACTIVITY)
    if column == "skills":
        rows = rows.explode("skills")
    return (
        rows.filter(pl.col(column).is_not_null())
        .group_by(pl.col(column).alias(name))
        .agg(
            pl.len().alias("events"),
            pl.col("learner_id").n_unique().alias("learners"),
            attempts.alias("attempts"),
            accuracy(IS_COUNTED.sum(), IS_COUNTED_RIGHT.sum()).alias("accuracy"),
        )
        .sort(["events", name], descending=[True, False])
        .head(TOP_TOPICS)
        .with_columns(pl.col("events", "learners", "attempts").cast(pl.Int64))
    )


#: ``tutor_message`` events of the learners (payload ``role``), not the tutor's replies.
IS_QUESTION = pl.col("payload").str.json_path_match("$.role") == "learner"


def _agents(in_period: pl.LazyFrame) -> pl.LazyFrame:
    """Tutor messages per agent (payload ``agent``): messages, learners' messages, learners."""
    messages = in_period.filter(pl.col("kind") == "tutor_message").with_columns(
        pl.col("payload")
        .str.json_path_match("$.agent")
        .fill_null(UNSPECIFIED_AGENT)
        .alias("agent"),
        IS_QUESTION.alias("is_question"),
    )
    return (
        messages.group_by("agent")
        .agg(
            pl.len().cast(pl.Int64).alias("messages"),
            pl.col("is_question").sum().cast(pl.Int64).alias("learner_messages"),
            pl.col("learner_id").n_unique().cast(pl.Int64).alias("learners"),
        )
        .sort(["messages", "agent"], descending=[True, False])
    )


def _questions(in_period: pl.LazyFrame) -> pl.LazyFrame:
    """Learners' messages to the tutor (:data:`IS_QUESTION`) per UTC day with any."""
    questions = in_period.filter((pl.col("kind") == "tutor_message") & IS_QUESTION)
    return questions.group_by(pl.col("ts").dt.date().alias("date")).agg(
        pl.len().cast(pl.Int64).alias("questions")
    )


def _hint_levels(in_period: pl.LazyFrame) -> pl.LazyFrame:
    """Per hint level: hints shown at that level, and (learner, item) pairs whose highest
    level in the period it was. The level is ``hints_used``, else payload ``level``."""
    level = pl.coalesce(
        pl.col("hints_used"),
        pl.col("payload").str.json_path_match("$.level").cast(pl.Int32, strict=False),
    )
    hints = in_period.filter(pl.col("kind") == "hint").select(
        "learner_id", "item_id", level.alias("level")
    )
    shown = hints.group_by("level").agg(pl.len().cast(pl.Int64).alias("hints"))
    highest = (
        hints.group_by("learner_id", "item_id")
        .agg(pl.col("level").max())
        .group_by("level")
        .agg(pl.len().cast(pl.Int64).alias("highest_for"))
    )
    return (
        shown.join(highest, on="level", how="left", nulls_equal=True)
        .with_columns(pl.col("highest_for").fill_null(0))
        .sort("level", nulls_last=True)
    )


def _period_learners(window: pl.LazyFrame, period: Period) -> pl.LazyFrame:
    """Distinct active learners of the previous (``current`` false) and this period."""
    return (
        window.filter(IS_ACTIVITY)
        .group_by((pl.col("ts") >= pl.lit(period.start)).alias("current"))
        .agg(pl.col("learner_id").n_unique().cast(pl.Int64).alias("active_learners"))
    )


def _period_measures(
    day_totals: pl.DataFrame, learners: pl.DataFrame, period: Period
) -> pl.DataFrame:
    """Every measure of the previous period (row 0) and this one (row 1), from the daily
    totals of both and their distinct active learners."""
    summed = [c for c in TOTALS if c != "active_learners"]
    both = (
        pl.DataFrame({"current": [False, True]})
        .join(
            day_totals.group_by((pl.col("bucket") >= period.first_day).alias("current")).agg(
                pl.col(summed).sum()
            ),
            on="current",
            how="left",
        )
        .join(learners, on="current", how="left")
        .with_columns(pl.col(TOTALS).fill_null(0))
        .sort("current")
    )
    return measures_of(both)


def _kpis(
    both: pl.DataFrame, has_previous: bool, at_risk: tuple[int, int | None] | None
) -> pl.DataFrame:
    """KPI rows: value this period, previous period, change and relative change."""
    previous_row, current_row = both.row(0, named=True), both.row(1, named=True)
    rows = [
        (name, current_row[name], previous_row[name] if has_previous else None)
        for name in KPI_MEASURES
    ]
    if at_risk is not None:
        rows.append(("at_risk", *at_risk))
    frame = pl.DataFrame(rows, schema=["kpi", "value", "previous"], orient="row")
    value, before = pl.col("value").cast(pl.Float64), pl.col("previous").cast(pl.Float64)
    return frame.select(
        "kpi",
        value,
        before,
        (value - before).alias("change"),
        pl.when(before != 0).then((value - before) / before.abs()).alias("change_pct"),
    ).cast(_KPI_SCHEMA)


def skill_names(skills: pl.DataFrame | None) -> dict[str, str]:
    """Skill id -> the name an instructor reads, from a course's skills table.

    Parameters
    ----------
    skills : polars.DataFrame, optional
        ``skill_id`` and ``name`` columns (:meth:`learnpulse.store.EventStore.skills`).

    Returns
    -------
    dict
        Every skill with a name; a name two skills share is followed by the id in
        parentheses, so charts keyed by name keep them apart. Skills without a name are left
        out (shown by their id).
    """
    if skills is None or skills.is_empty() or "name" not in skills.columns:
        return {}
    named = skills.select("skill_id", pl.col("name").str.strip_chars()).filter(
        pl.col("name").is_not_null() & (pl.col("name") != "")
    )
    shared = pl.col("name").is_duplicated()
    named = named.with_columns(
        pl.when(shared).then(pl.format("{} ({})", "name", "skill_id")).otherwise("name")
    )
    return dict(named.iter_rows())


def _named(topics: pl.DataFrame, names: dict[str, str]) -> pl.DataFrame:
    """``topics`` with a ``name`` column after ``skill``: its name, else its id."""
    name = pl.col("skill").replace_strict(names, default=pl.col("skill"), return_dtype=pl.String)
    return topics.insert_column(1, topics.select(name.alias("name")).to_series())


def _period_dict(period: Period) -> dict[str, Any]:
    return {
        "start": period.start,
        "end": period.at,
        "first_day": period.first_day,
        "last_day": period.last_day,
        "days": period.days,
    }


def course_overview(
    events: pl.DataFrame,
    *,
    range: str = "week",
    at: datetime | None = None,
    at_risk: tuple[int, int | None] | None = None,
    skills: pl.DataFrame | None = None,
) -> dict[str, Any]:
    """What happened in a course over one period, compared with the period before.

    Parameters
    ----------
    events : polars.DataFrame, shape (n_events, >= 10)
        An event frame (:data:`learnpulse.events.EVENT_FRAME_SCHEMA`; the columns of
        :data:`~learnpulse.analytics.measures.ANALYTICS_COLUMNS` are read), one course or
        a learner's own events.
    range : {"week", "month", "quarter", "course"}
        7, 30 or 91 UTC days ending with the day of ``at``, or every day since the first
        event (``"course"``, which has no previous period).
    at : datetime, optional
        Timezone-aware end of the period (exclusive). Default: just after the latest event,
        or now when there are none.
    at_risk : (int, int or None), optional
        Learners at risk now and at the start of the period (e.g. from ``retention_risk``
        predictions); adds an ``at_risk`` KPI.
    skills : polars.DataFrame, optional
        The course's skills (``skill_id``, ``name``; :meth:`EventStore.skills
        <learnpulse.store.EventStore.skills>`): topics are named as the course names them.

    Returns
    -------
    dict
        ``range``; ``period`` / ``previous_period`` (dicts of ``start``, ``end`` datetimes,
        ``first_day``, ``last_day`` dates, ``days``; ``previous_period`` is None for
        ``"course"``);
        ``kpis``: polars frame (n_kpis, 5) ``kpi, value, previous, change, change_pct``
        (change = value - previous; change_pct relative, null when previous is 0 or null)
        for ``active_learners, sessions, avg_session_minutes, accuracy`` [``at_risk``];
        ``daily``: frame (period days, 9) ``date`` and the measures of
        :mod:`learnpulse.analytics.measures` (one row per day, empty days included);
        ``popular_skills``: frame (<= TOP_TOPICS, 6) ``skill, name, events, learners,
        attempts, accuracy``, most active first (``name``: the course's, else the id);
        ``popular_items``: frame (<= TOP_TOPICS, 5) ``item_id, events, learners, attempts,
        accuracy``; ``skill_names``: dict of skill id -> name (:func:`skill_names`);
        ``tutor``: dict of ``daily`` (days, 4) ``date, tutor_messages`` (the learners' and the
        tutor's), ``questions`` (the learners' only), ``hints``, ``agents``
        (n_agents, 4) ``agent, messages, learner_messages, learners`` and ``hint_levels``
        (n_levels, 3) ``level, hints, highest_for``.
        :func:`learnpulse.analytics.to_json` turns it into JSON-ready dicts.
    """
    require_event_columns(events, ANALYTICS_COLUMNS)
    at = resolve_at(events, at)
    period = period_for(events, range, at)
    previous = period.before()
    window = event_window(events, previous.start, at)
    in_period = window.filter(pl.col("ts") >= pl.lit(period.start))
    sessions = session_table(window)
    grid = _day_grid(previous.first_day, period.last_day)
    day_totals, learners, by_skill, by_item, agents, hint_levels, questions = pl.collect_all(
        [
            bucket_totals(window, sessions, lambda ts: ts.dt.date(), grid),
            _period_learners(window, period),
            _topics(in_period, "skills", "skill"),
            _topics(in_period, "item_id", "item_id"),
            _agents(in_period),
            _hint_levels(in_period),
            _questions(in_period),
        ]
    )
    names = skill_names(skills)
    both = _period_measures(day_totals, learners, period)
    current_days = day_totals.filter(pl.col("bucket") >= period.first_day)
    daily = measures_of(current_days).rename({"bucket": "date"})
    has_previous = range != "course"
    return {
        "range": range,
        "period": _period_dict(period),
        "previous_period": _period_dict(previous) if has_previous else None,
        "kpis": _kpis(both, has_previous, at_risk),
        "daily": daily.select("date", *MEASURES),
        "popular_skills": _named(by_skill, names),
        "popular_items": by_item,
        "skill_names": names,
        "tutor": {
            "daily": daily.join(questions, on="date", how="left").select(
                "date", "tutor_messages", pl.col("questions").fill_null(0), "hints"
            ),
            "agents": agents,
            "hint_levels": hint_levels,
        },
    }
