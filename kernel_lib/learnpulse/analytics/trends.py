"""Course trends: the overview's measures week by week, and which way each is heading."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import numpy as np
import polars as pl

from learnpulse.analytics.measures import (
    ANALYTICS_COLUMNS,
    MEASURES,
    event_window,
    measures_by,
    session_table,
)
from learnpulse.analytics.periods import period_for, require_event_columns, resolve_at

#: Most recent complete weeks whose values decide a measure's direction.
DIRECTION_WEEKS = 4
#: Least-squares change per week, relative to the measure's mean over those weeks, below
#: which (in absolute value) the measure is "stable".
STABLE_BAND = 0.05
#: Days in one bucket of the weekly series.
WEEK_DAYS = 7
DIRECTIONS = ("rising", "falling", "stable", "unknown")


def _direction(values: list[float | None]) -> tuple[str, float | None]:
    """Direction label and relative weekly slope of one measure's last DIRECTION_WEEKS."""
    points = [(k, v) for k, v in enumerate(values[-DIRECTION_WEEKS:]) if v is not None]
    if len(points) < 2:
        return "unknown", None
    x, y = np.array(points, dtype=float).T
    mean = y.mean()
    if mean == 0:
        return ("stable", 0.0) if np.all(y == 0) else ("unknown", None)
    relative = float(np.polyfit(x, y, 1)[0] / abs(mean))
    if abs(relative) < STABLE_BAND:
        return "stable", relative
    return ("rising" if relative > 0 else "falling"), relative


def course_trends(
    events: pl.DataFrame, *, weeks: int | None = None, at: datetime | None = None
) -> dict[str, Any]:
    """The measures of :mod:`learnpulse.analytics.measures` per week, and their directions.

    Weeks are 7-day windows ending with the UTC day of ``at`` (so the latest week is as
    complete as the data), counted back to the first event or ``weeks`` windows.

    Parameters
    ----------
    events : polars.DataFrame, shape (n_events, >= 10)
        An event frame (:data:`learnpulse.events.EVENT_FRAME_SCHEMA`).
    weeks : int, optional
        Number of weeks to report (default: back to the week of the first event).
    at : datetime, optional
        Timezone-aware end (exclusive). Default: just after the latest event, else now.

    Returns
    -------
    dict
        ``end`` (datetime), ``weekly``: polars frame (n_weeks, 2 + len(MEASURES))
        ``week_start, week_end`` (dates, inclusive) and the measures, oldest first;
        ``directions``: frame (len(MEASURES), 3) ``measure, direction, relative_slope``:
        direction ``rising`` / ``falling`` / ``stable`` / ``unknown`` (fewer than two weeks
        with a value) from the least-squares slope over the last DIRECTION_WEEKS weeks
        relative to their mean (STABLE_BAND).
    """
    require_event_columns(events, ANALYTICS_COLUMNS)
    if weeks is not None and weeks < 1:
        raise ValueError(f"weeks must be a positive number of weeks; got {weeks}")
    at = resolve_at(events, at)
    span = period_for(events, "course", at)
    n_weeks = weeks if weeks is not None else -(-span.days // WEEK_DAYS)
    first_day = span.last_day - timedelta(days=WEEK_DAYS * n_weeks - 1)
    start = datetime.combine(first_day, datetime.min.time(), tzinfo=at.tzinfo)
    window = event_window(events, start, at)

    def week_of(ts: pl.Expr) -> pl.Expr:
        offset = (ts.dt.date() - pl.lit(first_day)).dt.total_days() // WEEK_DAYS * WEEK_DAYS
        return pl.lit(first_day) + pl.duration(days=offset)

    grid = pl.DataFrame(
        {"bucket": [first_day + timedelta(days=WEEK_DAYS * k) for k in range(n_weeks)]}
    )
    weekly = (
        measures_by(window, session_table(window), week_of, grid)
        .collect()
        .rename({"bucket": "week_start"})
        .with_columns((pl.col("week_start") + pl.duration(days=WEEK_DAYS - 1)).alias("week_end"))
        .select("week_start", "week_end", *MEASURES)
    )
    rows = [(m, *_direction(weekly[m].to_list())) for m in MEASURES]
    directions = pl.DataFrame(
        rows,
        schema={"measure": pl.String, "direction": pl.String, "relative_slope": pl.Float64},
        orient="row",
    )
    return {"end": at, "weekly": weekly, "directions": directions}
