"""The course measures shared by the overview (per day, per period) and the trends (per week).

Definitions (every count is over the events in a bucket of time):

* activity event: any kind except ``registration`` / ``withdrawal``
  (:data:`learnpulse.features.NON_ACTIVITY_KINDS`);
* ``active_learners``: distinct learners with an activity event;
* ``sessions``: distinct ``(learner_id, session_id)`` whose first event falls in the bucket;
* ``avg_session_minutes``: mean session length of those sessions, where a session's length is
  the ``duration_ms`` of its ``session_end`` event when there is one, else the time from its
  first to its last event;
* ``attempts``: ``attempt`` events with ``correct`` set, every one (answering a solved
  exercise again is activity too);
* ``accuracy``: share of the attempts that are evidence counted right: each exercise's
  attempts until the learner first solves it, a right answer after its whole hint ladder
  counted wrong, later attempts at it left out as practice
  (:func:`learnpulse.features.with_evidence`, the rule mastery follows; it reads the
  learner's whole history, so an exercise solved before the bucket is practice in it); null
  when there is no such attempt;
* ``tutor_messages`` / ``hints``: ``tutor_message`` / ``hint`` events;
* ``events``: activity events.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import polars as pl

from learnpulse.events import EVENT_KINDS
from learnpulse.features import COUNTED_CORRECT, NON_ACTIVITY_KINDS, with_evidence

#: Event columns the analytics read.
ANALYTICS_COLUMNS: tuple[str, ...] = (
    "ts",
    "learner_id",
    "session_id",
    "kind",
    "item_id",
    "skills",
    "correct",
    "duration_ms",
    "hints_used",
    "payload",
)
#: The measures of one bucket of time, in output order (see the module docstring).
MEASURES: tuple[str, ...] = (
    "active_learners",
    "sessions",
    "avg_session_minutes",
    "events",
    "attempts",
    "accuracy",
    "tutor_messages",
    "hints",
)
_MS_PER_MINUTE = 60_000

#: Maps an expression of UTC timestamps to the bucket (a date) each falls in.
Bucketing = Callable[[pl.Expr], pl.Expr]

IS_ACTIVITY = ~pl.col("kind").is_in(NON_ACTIVITY_KINDS)
IS_GRADED_ATTEMPT = (pl.col("kind") == "attempt") & pl.col("correct").is_not_null()
#: Graded attempts that are evidence, and those of them counted right (accuracy's terms).
IS_COUNTED = pl.col(COUNTED_CORRECT).is_not_null()
IS_COUNTED_RIGHT = pl.col(COUNTED_CORRECT).fill_null(False)


def event_window(events: pl.DataFrame, start: datetime, end: datetime) -> pl.LazyFrame:
    """The events with ``start <= ts < end``, only :data:`ANALYTICS_COLUMNS` and
    :data:`~learnpulse.features.COUNTED_CORRECT`, materialised once so that every aggregation
    over it shares the scan.

    Attempts are marked as evidence or practice (:func:`~learnpulse.features.with_evidence`)
    before the cut, on every earlier event of the learner.

    ``learner_id`` and ``session_id`` become integer codes (same id, same code) and ``kind``
    an enum (an unknown kind becomes null): every measure counts learners and sessions, never
    names them, and comparing integers is several times faster than comparing text.
    """
    return (
        with_evidence(events)
        .lazy()
        .select(*ANALYTICS_COLUMNS, COUNTED_CORRECT)
        .filter(pl.col("ts") >= pl.lit(start), pl.col("ts") < pl.lit(end))
        .with_columns(
            pl.col("learner_id", "session_id").cast(pl.Categorical).to_physical(),
            pl.col("kind").cast(pl.Enum(EVENT_KINDS), strict=False),
        )
        .collect()
        .lazy()
    )


def session_table(events: pl.LazyFrame) -> pl.LazyFrame:
    """One row per ``(learner_id, session_id)``: ``start`` (first event) and length ``ms``.

    Lengths stay integer milliseconds so that sums do not depend on row order (the groups
    come out in any order), which keeps every figure reproducible to the last digit.
    """
    span_ms = (pl.col("ts").max() - pl.col("ts").min()).dt.total_milliseconds()
    reported_ms = pl.col("duration_ms").filter(pl.col("kind") == "session_end").max()
    return (
        events.filter(pl.col("session_id").is_not_null())
        .group_by("learner_id", "session_id")
        .agg(
            pl.col("ts").min().alias("start"),
            pl.coalesce(reported_ms, span_ms).cast(pl.Int64).alias("ms"),
        )
    )


def accuracy(counted: pl.Expr, right: pl.Expr) -> pl.Expr:
    """right / counted attempts, null when no attempt counts."""
    return pl.when(counted > 0).then(right / counted).otherwise(None)


#: Per-bucket totals the measures are made of; all but ``active_learners`` add up across
#: buckets (distinct learners do not: they are counted again over the merged buckets).
TOTALS: tuple[str, ...] = (
    "active_learners",
    "sessions",
    "session_ms",
    "events",
    "attempts",
    "counted",
    "correct",
    "tutor_messages",
    "hints",
)


def bucket_totals(
    events: pl.LazyFrame, sessions: pl.LazyFrame, bucket: Bucketing, buckets: pl.DataFrame
) -> pl.LazyFrame:
    """:data:`TOTALS` per bucket (0 in empty buckets).

    Parameters
    ----------
    events : polars.LazyFrame
        Event rows (at least :data:`ANALYTICS_COLUMNS`), already cut to the time window.
    sessions : polars.LazyFrame
        :func:`session_table` of the same events.
    bucket : callable
        Maps the ``ts`` / session ``start`` expression to the bucket's date.
    buckets : polars.DataFrame, shape (n_buckets, 1)
        Column ``bucket`` (Date): every bucket to report, including empty ones.

    Returns
    -------
    polars.LazyFrame, shape (n_buckets, 1 + len(TOTALS))
        ``bucket`` then :data:`TOTALS` (Int64), sorted by bucket.
    """
    activity = events.group_by(bucket(pl.col("ts")).alias("bucket")).agg(
        pl.col("learner_id").filter(IS_ACTIVITY).n_unique().alias("active_learners"),
        IS_ACTIVITY.sum().alias("events"),
        IS_GRADED_ATTEMPT.sum().alias("attempts"),
        IS_COUNTED.sum().alias("counted"),
        IS_COUNTED_RIGHT.sum().alias("correct"),
        (pl.col("kind") == "tutor_message").sum().alias("tutor_messages"),
        (pl.col("kind") == "hint").sum().alias("hints"),
    )
    session_stats = sessions.group_by(bucket(pl.col("start")).alias("bucket")).agg(
        pl.len().alias("sessions"), pl.col("ms").sum().alias("session_ms")
    )
    return (
        buckets.lazy()
        .join(activity, on="bucket", how="left")
        .join(session_stats, on="bucket", how="left")
        .select("bucket", *(pl.col(c).fill_null(0).cast(pl.Int64) for c in TOTALS))
        .sort("bucket")
    )


def measures_of(totals: pl.LazyFrame | pl.DataFrame) -> pl.LazyFrame | pl.DataFrame:
    """:data:`MEASURES` from :data:`TOTALS` (other columns, such as ``bucket``, kept first).

    Averages are ratios of integer sums, so they do not depend on the order of rows.
    """
    sessions = pl.col("sessions")
    keep = [c for c in totals.collect_schema().names() if c not in TOTALS]
    return totals.select(
        *keep,
        "active_learners",
        "sessions",
        pl.when(sessions > 0)
        .then(pl.col("session_ms") / sessions / _MS_PER_MINUTE)
        .alias("avg_session_minutes"),
        "events",
        "attempts",
        accuracy(pl.col("counted"), pl.col("correct")).alias("accuracy"),
        "tutor_messages",
        "hints",
    )


def measures_by(
    events: pl.LazyFrame, sessions: pl.LazyFrame, bucket: Bucketing, buckets: pl.DataFrame
) -> pl.LazyFrame:
    """Every measure of :data:`MEASURES` per bucket (arguments as :func:`bucket_totals`).

    Returns
    -------
    polars.LazyFrame, shape (n_buckets, 1 + len(MEASURES))
        ``bucket`` then :data:`MEASURES`, sorted by bucket; counts are 0 in empty buckets.
    """
    return measures_of(bucket_totals(events, sessions, bucket, buckets))
