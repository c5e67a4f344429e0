"""Learning velocity: mastery gained per active hour and per week, and whether it speeds up.

Mastery gained is the *demonstrated* mastery of a BKT trace
(:func:`~learnpulse.models.mastery.trace_mastery`): the change in P(known) each response caused,
counting a skill's first response from 0 rather than from the population prior, so per skill it
adds up to the final P(known) and 1.0 is "one skill's worth" of mastery. A wrong answer lowers
P(known) and counts negatively; a learner who merely keeps attempting gains little.
Active time comes from sessions: each session counts
the longest of its event span, the sum of its events' ``duration_ms`` and its ``session_end``
duration, capped at :data:`MAX_SESSION_HOURS`; an event without a session counts its own
``duration_ms``.

Weeks are 7-day windows counted back from the cut-off (``weeks_back`` 0 = the last 7 days), so
"recent" means the same thing for everybody; a week without activity counts as a week without
gain. The trend compares the mean weekly gain of the last :data:`RECENT_WEEKS` weeks with the
learner's earlier weeks.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import polars as pl

from learnpulse.events import id_dtype
from learnpulse.models.activity import activity, session_spans
from learnpulse.models.knowledge_tracing import BKT
from learnpulse.models.knowledge_tracing import sequences as sq
from learnpulse.models.mastery import (
    MasteryTrace,
    before,
    check_columns,
    trace_mastery,
)

#: A session longer than this many hours (left open, clock skew) counts as this long.
MAX_SESSION_HOURS = 4.0
#: Below this many active hours, mastery per active hour is not estimated (null).
MIN_ACTIVE_HOURS = 1 / 60
#: Weeks (ending at the cut-off) whose mean weekly gain is "recent" for the trend.
RECENT_WEEKS = 3
#: Relative change of weekly gain, recent vs earlier weeks, that counts as a trend.
TREND_THRESHOLD = 0.25
#: Weekly gain (skills' worth of P(known)) below which the earlier rate is taken as this
#: value when computing the relative change (no division by ~0).
TREND_FLOOR = 0.05
#: Confidence rests on attempts, ``n / (n + CONFIDENCE_HALF_ATTEMPTS)``, ...
CONFIDENCE_HALF_ATTEMPTS = 20.0
#: ... times the share of this many weeks of history the learner has (capped at 1).
CONFIDENCE_FULL_WEEKS = 2 * RECENT_WEEKS
MODEL = sq.model_label("learning-velocity")
_HOUR_MS = 3_600_000
_WEEK_US = 7 * 86_400 * 1_000_000


def session_hours(events: pl.DataFrame, *, spans: pl.DataFrame | None = None) -> pl.DataFrame:
    """Active hours of every session (see the module docstring), by its start.

    Parameters
    ----------
    events : polars.DataFrame
        Event frame with ``learner_id``, ``ts``, ``kind``, ``session_id``, ``duration_ms``.
    spans : polars.DataFrame, optional
        :func:`~learnpulse.models.activity.session_spans` of ``events`` if already computed.

    Returns
    -------
    polars.DataFrame, shape (n_sessions, 3)
        ``learner_id``, ``start`` (first event time), ``hours``.
    """
    check_columns(events, ("learner_id", "ts", "kind", "session_id", "duration_ms"), "events")
    spans = session_spans(events) if spans is None else spans
    span_ms = (pl.col("end") - pl.col("start")).dt.total_milliseconds()
    sessions = spans.lazy().select(
        "learner_id", "start", ms=pl.max_horizontal(span_ms, "work", "recorded")
    )
    loose = (
        activity(events)
        .filter(pl.col("session_id").is_null() & (pl.col("duration_ms") > 0))
        .select("learner_id", start="ts", ms="duration_ms")
    )
    hours = (pl.col("ms").fill_null(0).cast(pl.Float64) / _HOUR_MS).clip(0.0, MAX_SESSION_HOURS)
    both = pl.concat([sessions, loose], how="vertical_relaxed")
    return both.select("learner_id", "start", hours=hours).collect()


def _weeks_back(column: str, cutoff: datetime) -> pl.Expr:
    """Whole weeks from ``column`` to the cut-off (0 = the last 7 days)."""
    return ((pl.lit(cutoff) - pl.col(column)).dt.total_microseconds() // _WEEK_US).cast(pl.Int64)


def weekly_progress(
    events: pl.DataFrame,
    *,
    model: BKT | None = None,
    at: datetime | None = None,
    trace: MasteryTrace | None = None,
    spans: pl.DataFrame | None = None,
    skills: str | Sequence[str] | None = None,
) -> pl.DataFrame:
    """Mastery gained and active hours of every learner in every week up to the cut-off.

    Parameters
    ----------
    events : polars.DataFrame, shape (n_events, >= 7)
        Event frame (``learner_id``, ``ts``, ``kind``, ``skills``, ``correct``,
        ``session_id``, ``duration_ms``).
    model : BKT, optional
        Fitted (see :func:`~learnpulse.models.mastery.trace_mastery`); default fitted here.
    at : datetime, optional
        Timezone-aware cut-off (default: the last event's time).
    trace : MasteryTrace, optional
        The trace of ``events`` before ``at`` if already computed (``model`` is then unused).
    spans : polars.DataFrame, optional
        :func:`~learnpulse.models.activity.session_spans` of ``events`` before ``at`` if
        already computed.
    skills : str or sequence of str, optional
        Count only the gains and attempts on these skills (default: every skill); the hours
        are all active hours.

    Returns
    -------
    polars.DataFrame, one row per (learner, week) from their first event to the cut-off
        ``learner_id``, ``weeks_back`` (0 = the 7 days before the cut-off), ``gain``,
        ``hours``, ``attempts``; weeks without activity have zeros.
    """
    events = before(events, at)
    if events.is_empty():
        schema = {"learner_id": id_dtype(events), "weeks_back": pl.Int64}
        floats = dict.fromkeys(("gain", "hours"), pl.Float64)
        return pl.DataFrame(schema={**schema, **floats, "attempts": pl.UInt32})
    cutoff = at if at is not None else events.get_column("ts").max()
    trace = trace_mastery(events, model=model) if trace is None else trace
    responses = trace.responses
    if skills is not None:
        wanted = [skills] if isinstance(skills, str) else list(skills)  # one skill, not letters
        responses = responses.filter(pl.col("skill").is_in(wanted))
    gains = responses.group_by("learner_id", weeks_back=_weeks_back("ts", cutoff)).agg(
        gain=pl.col("gain").sum(), attempts=pl.len()
    )
    hours = (
        session_hours(events, spans=spans)
        .group_by("learner_id", weeks_back=_weeks_back("start", cutoff))
        .agg(hours=pl.col("hours").sum())
    )
    # sorted per learner before the weeks are spelled out (10,000 rows, not 100,000), and
    # the joins keep that order
    grid = (
        events.group_by("learner_id")
        .agg(first=pl.col("ts").min())
        .sort("learner_id")
        .select("learner_id", weeks_back=pl.int_ranges(0, _weeks_back("first", cutoff) + 1))
        .explode("weeks_back")
        .with_columns(pl.col("weeks_back").cast(pl.Int64))
    )
    keys = ["learner_id", "weeks_back"]
    return (
        grid.join(gains, on=keys, how="left", maintain_order="left")
        .join(hours, on=keys, how="left", maintain_order="left")
        .with_columns(pl.col("gain", "hours").fill_null(0.0), pl.col("attempts").fill_null(0))
    )


def _trend() -> dict[str, pl.Expr]:
    recent = pl.col("weeks_back") < RECENT_WEEKS
    earlier_gain = pl.col("gain").filter(~recent).mean()
    change = (pl.col("gain").filter(recent).mean() - earlier_gain) / pl.max_horizontal(
        earlier_gain.abs(), pl.lit(TREND_FLOOR)
    )
    return {
        "recent_per_week": pl.col("gain").filter(recent).mean(),
        "earlier_per_week": earlier_gain,
        "trend_change": change,
    }


def _reason() -> pl.Expr:
    per_hour = pl.col("per_active_hour").round(3).cast(pl.String).fill_null("n/a")
    history = (
        pl.when(pl.col("earlier_per_week").is_null())
        .then(pl.format("less than {} weeks of history", pl.lit(RECENT_WEEKS + 1)))
        .otherwise(
            pl.format(
                "{}/week in the last {} weeks vs {}/week before",
                pl.col("recent_per_week").round(2),
                pl.lit(RECENT_WEEKS),
                pl.col("earlier_per_week").round(2),
            )
        )
    )
    return pl.format(
        "gained {} skills' worth of mastery over {} attempts in {} active hours ({} per hour); {}",
        pl.col("mastery_gained").round(2),
        "attempts",
        pl.col("active_hours").round(1),
        per_hour,
        history,
    )


def learning_velocity(
    events: pl.DataFrame,
    *,
    model: BKT | None = None,
    at: datetime | None = None,
    progress: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """Mastery gained per active hour and per week of every learner, with its trend.

    Parameters
    ----------
    events : polars.DataFrame, shape (n_events, >= 7)
        Event frame (see :func:`weekly_progress`).
    model : BKT, optional
        Fitted BKT (see :func:`~learnpulse.models.mastery.fit_mastery_model`); default: fitted
        on ``events`` before ``at``.
    at : datetime, optional
        Timezone-aware cut-off (default: the last event's time).
    progress : polars.DataFrame, optional
        :func:`weekly_progress` of the same events and cut-off if already computed (``events``
        and ``model`` are then unused).

    Returns
    -------
    polars.DataFrame, shape (n_learners, 14)
        ``learner_id``, ``value`` (= ``per_active_hour``, null under :data:`MIN_ACTIVE_HOURS`),
        ``per_active_hour``, ``per_week``, ``mastery_gained``, ``active_hours``, ``weeks`` (7-day
        windows from the learner's first event to the cut-off, partial ones included),
        ``attempts``, ``trend`` (accelerating / steady / slowing; steady without earlier weeks),
        ``recent_per_week``, ``earlier_per_week``, ``confidence``, ``model``, ``reason``.
    """
    weekly = weekly_progress(events, model=model, at=at) if progress is None else progress
    frame = weekly.group_by("learner_id").agg(
        mastery_gained=pl.col("gain").sum(),
        active_hours=pl.col("hours").sum(),
        attempts=pl.col("attempts").sum().cast(pl.Int64),
        weeks=pl.col("weeks_back").max().cast(pl.Float64) + 1,
        **_trend(),
    )
    per_hour = pl.when(pl.col("active_hours") >= MIN_ACTIVE_HOURS).then(
        pl.col("mastery_gained") / pl.col("active_hours")
    )
    trend = (
        pl.when(pl.col("trend_change") > TREND_THRESHOLD)
        .then(pl.lit("accelerating"))
        .when(pl.col("trend_change") < -TREND_THRESHOLD)
        .then(pl.lit("slowing"))
        .otherwise(pl.lit("steady"))
    )
    n = pl.col("attempts").cast(pl.Float64)
    history = (pl.col("weeks") / CONFIDENCE_FULL_WEEKS).clip(0.0, 1.0)
    frame = frame.with_columns(
        per_active_hour=per_hour,
        per_week=pl.col("mastery_gained") / pl.col("weeks"),
        trend=trend,
        confidence=n / (n + CONFIDENCE_HALF_ATTEMPTS) * history,
    )
    return frame.select(
        "learner_id",
        value="per_active_hour",
        per_active_hour="per_active_hour",
        per_week="per_week",
        mastery_gained="mastery_gained",
        active_hours="active_hours",
        weeks="weeks",
        attempts="attempts",
        trend="trend",
        recent_per_week="recent_per_week",
        earlier_per_week="earlier_per_week",
        confidence="confidence",
        model=pl.lit(MODEL),
        reason=_reason(),
    ).sort("learner_id")
