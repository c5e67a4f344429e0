"""A course's events held in memory and kept up to date with the store, cheaply.

The first :meth:`CourseMirror.sync` reads the whole course; later ones read only events stored
after the highest sequence number seen (the store's primary key, so this costs one indexed
query when nothing is new) and re-read the small learners table to notice erasures
(:meth:`learnpulse.store.EventStore.forget` deletes a learner's events and learner rows).

A mirror is the class as its views see it: the staff's events (instructors trying the tutor
or an exercise, :meth:`learnpulse.store.EventStore.add_staff`) are never in it, and one newly
recorded as staff leaves it at the next sync, as an erased learner does.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import polars as pl

from learnpulse.store import EventStore

#: On PostgreSQL, sequence numbers are handed out when rows are inserted, so a transaction
#: can commit after a later one: each sync re-reads this many sequence numbers before the
#: highest seen and keeps the rows it did not have. (SQLite serialises writers: no gap.)
POSTGRES_SEQ_LOOKBACK = 10_000
#: Chunks a mirror's frame may grow to by appends before it is made contiguous again.
MAX_CHUNKS = 32


@dataclass(frozen=True)
class CourseSnapshot:
    """One consistent view of a course: its events (with ``seq``) and tables."""

    course: str
    events: pl.DataFrame
    learners: pl.DataFrame
    items: pl.DataFrame
    skills: pl.DataFrame
    seq: int
    revision: int


class CourseMirror:
    """The events of ``course`` in memory, following ``store``. Thread-safe.

    Attributes
    ----------
    seq : int
        Highest store sequence number of the course's events held (-1: none).
    revision : int
        Goes up by one whenever the held events change (new events or an erasure): results
        computed from one revision stay valid until the next.
    """

    def __init__(self, store: EventStore, course: str):
        self.store, self.course = store, course
        self.seq = -1
        self.revision = 0
        self._seen_seq = -1  # highest seq read from any course
        self._events: pl.DataFrame | None = None
        self._learner_ids: set[str] = set()
        self._tables: dict[str, pl.DataFrame] = {}
        self._lock = threading.Lock()

    def snapshot(self) -> CourseSnapshot:
        """The current view (sync first if never synced)."""
        with self._lock:
            if self._events is None:
                self._load()
            return CourseSnapshot(
                self.course, self._events, **self._tables, seq=self.seq, revision=self.revision
            )

    def sync(self) -> set[str]:
        """Bring the mirror up to date; return the learners whose events changed
        (new events or erased); every learner on the first sync."""
        with self._lock:
            if self._events is None:
                self._load()
                return set(self._learner_ids)
            return self._follow()

    def _load(self) -> None:
        events = self.store.query(course=self.course, with_seq=True, exclude_staff=True)
        self._events = events
        self.seq = self._seen_seq = int(events["seq"].max()) if events.height else -1
        self._learner_ids = set(events["learner_id"].unique().to_list())
        self._read_tables(self.store.learners(self.course, exclude_staff=True))
        self.revision += 1

    def _read_tables(self, learners: pl.DataFrame) -> None:
        self._tables = {
            "learners": learners,
            "items": self.store.items(self.course),
            "skills": self.store.skills(self.course),
        }

    def _new_events(self) -> pl.DataFrame:
        lookback = POSTGRES_SEQ_LOOKBACK if self.store.backend == "postgresql" else 0
        start = max(self._seen_seq - lookback, -1)
        fresh = self.store.query(after_seq=start, order="seq", with_seq=True, exclude_staff=True)
        if fresh.height:
            self._seen_seq = max(self._seen_seq, int(fresh["seq"].max()))
        mine = fresh.filter(pl.col("course_id") == self.course)
        if lookback and mine.height:
            known = self._events.filter(pl.col("seq") > start)["seq"]
            mine = mine.filter(~pl.col("seq").is_in(known.implode()))
        return mine

    def _follow(self) -> set[str]:
        new = self._new_events()
        learners = self.store.learners(self.course, exclude_staff=True)
        # erased, or recorded as staff since: out of the class either way
        erased = self._learner_ids - set(learners["learner_id"].to_list())
        changed = set(new["learner_id"].unique().to_list()) | erased
        if not changed:
            return changed
        events = self._events
        if erased:
            events = events.filter(~pl.col("learner_id").is_in(list(erased)))
        if new.height:
            in_order = not events.height or new["ts"].min() >= events["ts"].max()
            new = new if in_order else new.sort("ts", "seq")
            events = pl.concat([events, new], rechunk=False)
            if not in_order:
                events = events.sort("ts", "seq")
            self.seq = max(self.seq, int(new["seq"].max()))
        if events.n_chunks() > MAX_CHUNKS:
            events = events.rechunk()
        self._events = events
        self._learner_ids = (self._learner_ids - erased) | set(new["learner_id"].to_list())
        self._read_tables(learners)
        self.revision += 1
        return changed
