"""Reporting periods: which UTC days a range covers, ending at a cut-off time ``at``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone

import polars as pl

#: Days covered by each named range. ``"course"`` is not here: it spans every day from the
#: first event to ``at``.
RANGE_DAYS: dict[str, int] = {"week": 7, "month": 30, "quarter": 91}
#: Every accepted ``range`` value.
RANGES: tuple[str, ...] = (*RANGE_DAYS, "course")
_ONE_US = timedelta(microseconds=1)
_ONE_DAY = timedelta(days=1)


@dataclass(frozen=True)
class Period:
    """Whole UTC days ``first_day`` .. ``last_day`` (inclusive), cut at ``at``.

    Events count when ``start <= ts < at``; the last day may be partial (it ends at ``at``).
    """

    first_day: date
    last_day: date
    at: datetime

    @property
    def start(self) -> datetime:
        return datetime.combine(self.first_day, time(), tzinfo=timezone.utc)

    @property
    def days(self) -> int:
        return (self.last_day - self.first_day).days + 1

    def before(self) -> Period:
        """The period of the same length just before this one (it ends where this starts)."""
        return Period(
            self.first_day - timedelta(days=self.days), self.first_day - _ONE_DAY, self.start
        )

    def to_json(self) -> dict[str, str | int]:
        return {
            "start": self.start.isoformat(),
            "end": self.at.isoformat(),
            "first_day": self.first_day.isoformat(),
            "last_day": self.last_day.isoformat(),
            "days": self.days,
        }


def require_event_columns(events: pl.DataFrame | pl.LazyFrame, needed: tuple[str, ...]) -> None:
    """Raise a ValueError naming the event columns that are missing."""
    have = events.collect_schema().names() if isinstance(events, pl.LazyFrame) else events.columns
    missing = [c for c in needed if c not in have]
    if missing:
        raise ValueError(f"events frame lacks column(s) {missing}; expected an event frame")


def resolve_at(events: pl.DataFrame, at: datetime | None) -> datetime:
    """The cut-off: ``at`` (timezone-aware), else just after the latest event, else now."""
    if at is not None:
        if at.tzinfo is None:
            raise ValueError("at must be a timezone-aware datetime (UTC), e.g. with tzinfo=UTC")
        return at.astimezone(timezone.utc)
    latest = events["ts"].max() if events.height else None
    if latest is None:
        return datetime.now(timezone.utc)
    return latest + _ONE_US


def period_for(events: pl.DataFrame, range: str, at: datetime) -> Period:
    """The ``range`` ending at ``at``: its last day is the UTC date of the last instant before
    ``at``; ``"course"`` starts on the date of the earliest event (or is one day long)."""
    if range not in RANGES:
        raise ValueError(f"range must be one of {', '.join(RANGES)}; got {range!r}")
    last_day = (at - _ONE_US).date()
    if range == "course":
        earliest = events["ts"].min() if events.height else None
        first_day = min(earliest.date(), last_day) if earliest is not None else last_day
    else:
        first_day = last_day - timedelta(days=RANGE_DAYS[range] - 1)
    return Period(first_day, last_day, at)
