"""The courses an instructor can pick in the dashboard: what the store holds, named.

The store keeps course ids only; a course's title is in its course file. Whoever lists the
courses passes the courses it has loaded (the server's ``tutor_course_file``, the shipped
demo course, a kernel's ``$LEARNPULSE_COURSE_FILE``) to name them.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import polars as pl

#: Columns of :func:`course_catalog`.
CATALOG_SCHEMA = {"course_id": pl.String, "name": pl.String, "learners": pl.Int64}


def course_catalog(store: Any, named: Iterable[Any] = ()) -> pl.DataFrame:
    """One row per course in ``store``: ``course_id``, ``name``, ``learners``.

    Parameters
    ----------
    store : EventStore
        Its :meth:`~learnpulse.store.EventStore.known_courses` (cheap: no scan of the events).
    named : iterable of Course
        Loaded courses whose ``title`` names the course of the same id; ``name`` is null for
        the others (shown by their id).

    Returns
    -------
    polars.DataFrame
        Shape (n_courses, 3), sorted by ``course_id``; ``learners`` counts the learners the
        store has recorded in the course (0 for a course without events yet).
    """
    return named_courses(store.known_courses(), named)


def named_courses(courses: pl.DataFrame, named: Iterable[Any] = ()) -> pl.DataFrame:
    """``courses`` (``course_id``, ``learners``) with the ``name`` of each course that one
    of ``named`` (loaded courses) has the id of, else null; columns of :data:`CATALOG_SCHEMA`.
    """
    titles = {course.id: course.title for course in named}
    name = pl.col("course_id").replace_strict(titles, default=None, return_dtype=pl.String)
    return courses.select("course_id", name.alias("name"), "learners").cast(CATALOG_SCHEMA)


def catalog_from_json(rows: list[dict[str, Any]]) -> pl.DataFrame:
    """A :func:`course_catalog` frame back from its JSON rows (``GET analytics/courses``)."""
    return pl.DataFrame(
        [tuple(row.get(column) for column in CATALOG_SCHEMA) for row in rows],
        schema=CATALOG_SCHEMA,
        orient="row",
    )
