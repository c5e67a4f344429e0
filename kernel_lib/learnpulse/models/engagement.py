"""Engagement patterns: sessions, session length, peak hours, preferred days, streaks, trend."""

from __future__ import annotations

from datetime import date, datetime

import polars as pl

from learnpulse import __version__
from learnpulse.features import NON_ACTIVITY_KINDS

#: Weeks (ending at the cut-off) whose activity decides the trend.
TREND_WEEKS = 4
#: Weekly change of activity, relative to the learner's mean week, that counts as a trend.
TREND_THRESHOLD = 0.10
MODEL = f"engagement-patterns {__version__}"
_DAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


def _sessions(activity: pl.DataFrame) -> pl.DataFrame:
    """Per learner: number of sessions and mean session length in minutes (span of events)."""
    spans = (
        activity.filter(pl.col("session_id").is_not_null())
        .group_by("learner_id", "session_id")
        .agg(((pl.col("ts").max() - pl.col("ts").min()).dt.total_seconds() / 60).alias("minutes"))
    )
    return spans.group_by("learner_id").agg(
        pl.len().alias("sessions"), pl.col("minutes").mean().alias("mean_session_minutes")
    )


def _habits(activity: pl.DataFrame) -> pl.DataFrame:
    """Per learner: the most frequent UTC hour and day of week (ties: the earliest)."""
    return (
        activity.group_by("learner_id")
        .agg(
            pl.col("ts").dt.hour().mode().min().alias("peak_hour"),
            pl.col("ts").dt.weekday().mode().min().alias("weekday"),
        )
        .with_columns(
            pl.col("weekday")
            .replace_strict(list(range(1, 8)), list(_DAY_NAMES), return_dtype=pl.String)
            .alias("preferred_day")
        )
        .drop("weekday")
    )


def _streaks(activity: pl.DataFrame, today: date) -> pl.DataFrame:
    """Per learner: longest run of consecutive active days, and the run still going at ``today``
    (a run that ended yesterday still counts: today is not over)."""
    days = (
        activity.select("learner_id", pl.col("ts").dt.date().alias("day"))
        .unique()
        .sort("learner_id", "day")
    )
    runs = days.with_columns(
        (pl.col("day").diff().over("learner_id").dt.total_days() != 1)
        .fill_null(True)
        .cum_sum()
        .over("learner_id")
        .alias("run")
    )
    lengths = runs.group_by("learner_id", "run").agg(pl.len().alias("length"), pl.col("day").max())
    alive = pl.col("day") >= pl.lit(today) - pl.duration(days=1)
    return lengths.group_by("learner_id").agg(
        pl.col("length").max().alias("longest_streak_days"),
        pl.col("length").filter(alive).max().fill_null(0).alias("current_streak_days"),
    )


def _trend(activity: pl.DataFrame, cutoff: datetime) -> pl.DataFrame:
    """Per learner: least-squares slope of events per week over the last TREND_WEEKS weeks,
    relative to the mean week, and the label it gives."""
    weeks_back = ((pl.lit(cutoff) - pl.col("ts")).dt.total_days() // 7).alias("weeks_back")
    recent = activity.select("learner_id", weeks_back).filter(pl.col("weeks_back") < TREND_WEEKS)
    grid = (
        activity.select("learner_id")
        .unique()
        .join(pl.DataFrame({"weeks_back": range(TREND_WEEKS)}), how="cross")
        .with_columns(pl.col("weeks_back").cast(pl.Int64))
    )
    counts = recent.group_by("learner_id", "weeks_back").agg(pl.len().alias("n"))
    weekly = grid.join(
        counts.with_columns(pl.col("weeks_back").cast(pl.Int64)),
        on=["learner_id", "weeks_back"],
        how="left",
    ).fill_null(0)
    x = -pl.col("weeks_back").cast(pl.Float64)  # time runs forward
    slope = pl.cov(x, pl.col("n").cast(pl.Float64)) / x.var()
    # Silent for the whole window after being active before: activity has fallen to nothing.
    relative = (
        pl.when(pl.col("n").sum() == 0)
        .then(-1.0)
        .otherwise((slope / pl.col("n").mean()).fill_nan(0.0).fill_null(0.0))
    )
    return (
        weekly.group_by("learner_id")
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


def engagement_patterns(events: pl.DataFrame, *, at: datetime | None = None) -> pl.DataFrame:
    """Engagement of every learner with activity before ``at`` (default: after the last event).

    Parameters
    ----------
    events : polars.DataFrame, shape (n_events, >= 4)
        Event frame; needs ``learner_id``, ``ts``, ``kind``, ``session_id``.
    at : datetime, optional
        Timezone-aware cut-off; nothing at or after it is used.

    Returns
    -------
    polars.DataFrame, shape (n_learners, 13)
        ``learner_id``, ``value`` (activity trend: improving / stable / declining),
        ``weekly_change``, ``sessions``, ``mean_session_minutes``, ``peak_hour`` (UTC),
        ``preferred_day``, ``current_streak_days``, ``longest_streak_days``, ``active_days``,
        ``confidence``, ``model``, ``reason``.
    """
    activity = events.filter(~pl.col("kind").is_in(NON_ACTIVITY_KINDS))
    if at is not None:
        activity = activity.filter(pl.col("ts") < at)
    if activity.is_empty():
        return _empty()
    cutoff = at if at is not None else activity.get_column("ts").max()
    base = activity.group_by("learner_id").agg(
        pl.col("ts").dt.date().n_unique().alias("active_days"),
        ((pl.lit(cutoff) - pl.col("ts").min()).dt.total_days() / 7).alias("weeks_seen"),
    )
    frame = (
        base.join(_trend(activity, cutoff), on="learner_id")
        .join(_sessions(activity), on="learner_id", how="left")
        .join(_habits(activity), on="learner_id")
        .join(_streaks(activity, cutoff.date()), on="learner_id")
        .with_columns(pl.col("sessions").fill_null(0))
    )
    # Fewer weeks of history than the trend window make the trend a guess.
    confidence = (pl.col("weeks_seen") / TREND_WEEKS).clip(0.1, 1.0)
    reason = pl.format(
        "{}% change in weekly activity over the last {} weeks; {} sessions, most active {}s "
        "around {}:00 UTC; current streak {} days",
        (pl.col("weekly_change") * 100).round(0).cast(pl.Int64),
        pl.lit(TREND_WEEKS),
        pl.col("sessions"),
        pl.col("preferred_day"),
        pl.col("peak_hour"),
        pl.col("current_streak_days"),
    )
    return frame.select(
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
        reason.alias("reason"),
    ).sort("learner_id")


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
