"""Engagement patterns: sessions, session length, peak hours, preferred days, streaks, trend."""

from __future__ import annotations

from datetime import date, datetime

import polars as pl

from learnpulse import __version__
from learnpulse.models.activity import activity, learner_days, session_spans
from learnpulse.models.mastery import before

#: Weeks (ending at the cut-off) whose activity decides the trend.
TREND_WEEKS = 4
#: Weekly change of activity, relative to the learner's mean week, that counts as a trend.
TREND_THRESHOLD = 0.10
MODEL = f"engagement-patterns {__version__}"
_DAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


def _sessions(spans: pl.DataFrame) -> pl.DataFrame:
    """Per learner: number of sessions and mean session length in minutes (span of events)."""
    minutes = (pl.col("end") - pl.col("start")).dt.total_seconds() / 60
    return spans.group_by("learner_id").agg(
        pl.len().alias("sessions"), minutes.mean().alias("mean_session_minutes")
    )


def _most_frequent(counts: pl.LazyFrame, column: str, weight: str) -> pl.LazyFrame:
    """Per learner, the ``column`` value of largest total ``weight`` (ties: the smallest)."""
    totals = counts.group_by("learner_id", column).agg(pl.col(weight).sum())
    top = pl.col(weight) == pl.col(weight).max()
    return totals.group_by("learner_id").agg(pl.col(column).filter(top).min())


def _habits(activity: pl.LazyFrame, days: pl.DataFrame) -> pl.LazyFrame:
    """Per learner: the most frequent UTC hour and day of week of activity (ties: the
    earliest); the day of week from the per-day counts, which are ~40x fewer rows."""
    hours = activity.group_by("learner_id", peak_hour=pl.col("ts").dt.hour()).agg(n=pl.len())
    weekdays = days.lazy().select("learner_id", "events", weekday=pl.col("day").dt.weekday())
    return (
        _most_frequent(hours, "peak_hour", "n")
        .join(_most_frequent(weekdays, "weekday", "events"), on="learner_id")
        .with_columns(
            pl.col("weekday")
            .replace_strict(list(range(1, 8)), list(_DAY_NAMES), return_dtype=pl.String)
            .alias("preferred_day")
        )
        .drop("weekday")
    )


def _streaks(days: pl.DataFrame, today: date) -> pl.LazyFrame:
    """Per learner: active days, longest run of consecutive active days, and the run still
    going at ``today`` (a run that ended yesterday still counts: today is not over).

    Consecutive days of a learner share ``day - its rank among the learner's days``, so runs
    are found without sorting the learners.
    """
    rank = pl.col("day").rank("ordinal").over("learner_id").cast(pl.Int64)
    runs = days.lazy().select("learner_id", "day", run=pl.col("day").cast(pl.Int64) - rank)
    lengths = runs.group_by("learner_id", "run").agg(pl.len().alias("length"), pl.col("day").max())
    alive = pl.col("day") >= pl.lit(today) - pl.duration(days=1)
    return lengths.group_by("learner_id").agg(
        pl.col("length").sum().alias("active_days"),
        pl.col("length").max().alias("longest_streak_days"),
        pl.col("length").filter(alive).max().fill_null(0).alias("current_streak_days"),
    )


def _trend(weekly: pl.LazyFrame) -> pl.LazyFrame:
    """Per learner: least-squares slope of events per week over the last TREND_WEEKS weeks
    (columns ``n0`` .. of ``weekly``, 0 = the last week), relative to the mean week, and the
    label it gives."""
    counts = weekly.unpivot(
        [f"n{w}" for w in range(TREND_WEEKS)], index="learner_id", value_name="n"
    ).select(
        "learner_id",
        weeks_back=pl.col("variable").str.slice(1).cast(pl.Int64),
        n=pl.col("n"),
    )
    x = -pl.col("weeks_back").cast(pl.Float64)  # time runs forward
    slope = pl.cov(x, pl.col("n").cast(pl.Float64)) / x.var()
    # Silent for the whole window after being active before: activity has fallen to nothing.
    relative = (
        pl.when(pl.col("n").sum() == 0)
        .then(-1.0)
        .otherwise((slope / pl.col("n").mean()).fill_nan(0.0).fill_null(0.0))
    )
    return (
        # each learner's weeks in one order: the float sums of cov, var and mean depend on it
        # (the unpivot's rows came in another order from run to run, and the last bits with it)
        counts.sort("learner_id", "weeks_back")
        .group_by("learner_id")
        .agg(relative.alias("weekly_change"))
        .with_columns(
            pl.when(pl.col("weekly_change") > TREND_THRESHOLD)
            .then(pl.lit("improving"))
            .when(pl.col("weekly_change") < -TREND_THRESHOLD)
            .then(pl.lit("declining"))
            .otherwise(pl.lit("stable"))
            .alias("value")
        )
    )


def _reason() -> pl.Expr:
    return pl.format(
        "{}% change in weekly activity over the last {} weeks; {} sessions, most active {}s "
        "around {}:00 UTC; current streak {} days",
        (pl.col("weekly_change") * 100).round(0).cast(pl.Int64),
        pl.lit(TREND_WEEKS),
        pl.col("sessions"),
        pl.col("preferred_day"),
        pl.col("peak_hour"),
        pl.col("current_streak_days"),
    )


def engagement_patterns(
    events: pl.DataFrame,
    *,
    at: datetime | None = None,
    sessions: pl.DataFrame | None = None,
    days: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """Engagement of every learner with activity before ``at`` (default: after the last event).

    Parameters
    ----------
    events : polars.DataFrame, shape (n_events, >= 4)
        Event frame; needs ``learner_id``, ``ts``, ``kind``, ``session_id``.
    at : datetime, optional
        Timezone-aware cut-off; nothing at or after it is used.
    sessions, days : polars.DataFrame, optional
        :func:`~learnpulse.models.activity.session_spans` and
        :func:`~learnpulse.models.activity.learner_days` of the events before ``at``, if
        already computed.

    Returns
    -------
    polars.DataFrame, shape (n_learners, 13)
        ``learner_id``, ``value`` (activity trend: improving / stable / declining),
        ``weekly_change``, ``sessions``, ``mean_session_minutes``, ``peak_hour`` (UTC),
        ``preferred_day``, ``current_streak_days``, ``longest_streak_days``, ``active_days``,
        ``confidence``, ``model``, ``reason``.
    """
    events = before(events, at)
    days = learner_days(events) if days is None else days
    if days.is_empty():
        return _empty()
    cutoff = at if at is not None else days.get_column("last").max()
    sessions = session_spans(events) if sessions is None else sessions
    active = activity(events)
    weeks_back = (pl.lit(cutoff) - pl.col("ts")).dt.total_days() // 7
    base = active.group_by("learner_id").agg(
        ((pl.lit(cutoff) - pl.col("ts").min()).dt.total_days() / 7).alias("weeks_seen"),
        *((weeks_back == w).sum().alias(f"n{w}") for w in range(TREND_WEEKS)),
    )
    frame = (
        base.join(_trend(base), on="learner_id")
        .join(_sessions(sessions).lazy(), on="learner_id", how="left")
        .join(_habits(active, days), on="learner_id")
        .join(_streaks(days, cutoff.date()), on="learner_id")
        .with_columns(pl.col("sessions").fill_null(0))
    )
    # Fewer weeks of history than the trend window make the trend a guess.
    confidence = (pl.col("weeks_seen") / TREND_WEEKS).clip(0.1, 1.0)
    return (
        frame.select(
            "learner_id",
            "value",
            "weekly_change",
            "sessions",
            "mean_session_minutes",
            "peak_hour",
            "preferred_day",
            "current_streak_days",
            "longest_streak_days",
            "active_days",
            confidence.alias("confidence"),
            pl.lit(MODEL).alias("model"),
            _reason().alias("reason"),
        )
        .sort("learner_id")
        .collect()
    )


def _empty() -> pl.DataFrame:
    return pl.DataFrame(
        schema={
            "learner_id": pl.String,
            "value": pl.String,
            "weekly_change": pl.Float64,
            "sessions": pl.UInt32,
            "mean_session_minutes": pl.Float64,
            "peak_hour": pl.Int8,
            "preferred_day": pl.String,
            "current_streak_days": pl.UInt32,
            "longest_streak_days": pl.UInt32,
            "active_days": pl.UInt32,
            "confidence": pl.Float64,
            "model": pl.String,
            "reason": pl.String,
        }
    )
