"""Who teaches rather than learns: the staff table, and the filter the class views use.

An instructor who tries the tutor or an exercise writes events like anyone (their own tutor
history and follow-ups read them), but is not a learner of the class: the views of a course
(its learners, counts, at-risk lists, mastery, clusters, percentiles) read the store with
``exclude_staff=True``, which leaves out every user recorded here. A server records its
instructors (see ``learnpulse_server``); :class:`StaffStore` is a mixin of
:class:`~learnpulse.store.EventStore` and, like the rest of the store, the only place this
table is written.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timezone
from typing import Any

import polars as pl
from sqlalchemy import ColumnElement, delete, func, select

from learnpulse.store import tables
from learnpulse.store.reading import read_frame

#: Roles a staff member may have.
STAFF_ROLES = ("instructor",)


def not_staff(user_column: Any) -> ColumnElement[bool]:
    """SQL condition: ``user_column`` names no one in the staff table."""
    return user_column.not_in(select(tables.staff.c.user_id))


def _user_ids(user_ids: Iterable[str]) -> list[str]:
    """``user_ids`` without repeats; ValueError naming a blank or non-string one."""
    ids = list(dict.fromkeys(user_ids))
    for user_id in ids:
        if not isinstance(user_id, str) or not user_id.strip():
            raise ValueError(f"a staff user id must be a non-blank string, not {user_id!r}")
    return ids


class StaffStore:
    """The staff table of :class:`~learnpulse.store.EventStore` (uses its engine and writes)."""

    _engine: Any
    _insert: Any

    def add_staff(self, user_ids: Iterable[str], role: str = "instructor") -> int:
        """Record ``user_ids`` as staff with ``role`` (those recorded already keep theirs).

        From then on the class views (``query(..., exclude_staff=True)``,
        ``learners(..., exclude_staff=True)``, ``courses()``) leave out their events, past
        ones included; the events themselves are kept.

        Returns
        -------
        int
            How many of them were not staff before.
        """
        if role not in STAFF_ROLES:
            raise ValueError(f"role must be one of {', '.join(STAFF_ROLES)}, not {role!r}")
        ids = _user_ids(user_ids)
        if not ids:
            return 0
        now_us = int(datetime.now(timezone.utc).timestamp() * 1_000_000)
        rows = [{"user_id": user_id, "role": role, "since_us": now_us} for user_id in ids]
        t = tables.staff
        statement = self._insert(t).on_conflict_do_nothing(index_elements=["user_id"])
        recorded = select(func.count()).select_from(t).where(t.c.user_id.in_(ids))
        with self._writing() as connection:  # type: ignore[attr-defined]
            before = connection.execute(recorded).scalar_one()
            connection.execute(statement, rows)  # (an executemany's rowcount: -1 on psycopg)
            return len(ids) - before

    def remove_staff(self, user_ids: Iterable[str]) -> int:
        """Count ``user_ids`` as learners again; return how many were staff.

        Their events return to the class views that read the course afresh (a server's
        analytics after a restart); a view following the store meanwhile shows their new
        events only.
        """
        ids = _user_ids(user_ids)
        with self._writing() as connection:  # type: ignore[attr-defined]
            statement = delete(tables.staff).where(tables.staff.c.user_id.in_(ids))
            return connection.execute(statement).rowcount

    def staff(self) -> pl.DataFrame:
        """The staff: ``user_id``, ``role`` and ``since`` (UTC), by user id."""
        t = tables.staff
        frame = read_frame(self._engine, select(t).order_by(t.c.user_id))
        return frame.with_columns(
            pl.from_epoch(pl.col("since_us"), time_unit="us")
            .dt.replace_time_zone("UTC")
            .alias("since")
        ).drop("since_us")
