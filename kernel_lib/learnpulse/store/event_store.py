"""EventStore: the one facade over the learnpulse database. No SQL lives outside this package."""

from __future__ import annotations

import json
import operator
import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import polars as pl
from sqlalchemy import Connection, case, delete, func, inspect, select
from sqlalchemy.dialects import postgresql, sqlite
from tqdm.auto import tqdm

from learnpulse.datasets.base import CourseData
from learnpulse.events import (
    EVENT_FIELDS,
    EVENT_FRAME_SCHEMA,
    EventValidationError,
    validate_events,
    validate_frame,
)
from learnpulse.store import migrate, tables
from learnpulse.store.engine import WRITE_OPTION, make_engine, redacted, resolve_url
from learnpulse.store.reading import read_events, read_frame
from learnpulse.store.series import TimeSeriesStore, delete_training_runs
from learnpulse.store.staff import StaffStore, not_staff

#: Rows per INSERT batch when writing a large frame (bounds memory, not atomicity).
WRITE_CHUNK_ROWS = 50_000
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_ONE_US = timedelta(microseconds=1)
_INT64_MAX = 2**63 - 1
_encode_skills = json.JSONEncoder(separators=(",", ":")).encode


@dataclass(frozen=True)
class AppendResult:
    """What one append did: events received, newly stored, and already present (duplicates)."""

    received: int
    inserted: int

    @property
    def duplicates(self) -> int:
        return self.received - self.inserted

    def to_dict(self) -> dict[str, int]:
        return {**asdict(self), "duplicates": self.duplicates}


def _json_list(column: str) -> pl.Expr:
    """A list column as JSON array text, escaped by polars' own JSON encoder."""
    encoded = pl.struct(pl.col(column).alias("v")).struct.json_encode()
    text = encoded.str.slice(5, encoded.str.len_chars() - 6)  # strip '{"v":' and '}'
    return pl.when(pl.col(column).is_null()).then(None).otherwise(text).alias(column)


def _storage_rows(frame: pl.DataFrame) -> list[tuple[Any, ...]]:
    """A validated event frame as tuples in ``_ROW_ORDER``."""
    return frame.select(
        pl.col("ts").dt.epoch("us")
        if name == "ts"
        else _json_list(name)
        if name == "skills"
        else pl.col(name)
        for name in _ROW_ORDER
    ).rows()


def _record_rows(events: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    """Validated event records (payload already JSON text) as tuples in ``_ROW_ORDER``."""
    rows = []
    skills_text: dict[tuple[str, ...], str] = {}  # a batch repeats few skill lists
    for event in events:
        skills = event["skills"]
        event["ts"] = (event["ts"] - _EPOCH) // _ONE_US
        if skills is not None:
            key = tuple(skills)
            text = skills_text.get(key)
            if text is None:
                text = skills_text[key] = _encode_skills(skills)
            event["skills"] = text
        rows.append(_row_of(event))
    return rows


_ROW_ORDER = EVENT_FIELDS
_EVENT_COLUMNS = ["ts_us" if name == "ts" else name for name in _ROW_ORDER]
_row_of = operator.itemgetter(*_ROW_ORDER)
_TS, _COURSE, _LEARNER, _ITEM, _SKILLS, _DIFFICULTY = (
    _ROW_ORDER.index(name)
    for name in ("ts", "course_id", "learner_id", "item_id", "skills", "difficulty")
)


class EventStore(TimeSeriesStore, StaffStore):
    """The learnpulse database: events, learners, items and skills; training runs and system
    samples (time series, see :class:`~learnpulse.store.series.TimeSeriesStore`); the staff,
    whom the class views leave out (see :class:`~learnpulse.store.staff.StaffStore`).

    Parameters
    ----------
    url : str or path, optional
        SQLAlchemy URL (``sqlite:///file.db``, ``postgresql://user@host/db``) or a plain path to
        a SQLite file. Default: ``$LEARNPULSE_DB_URL``, else a file under the Jupyter data dir.
    migrate_schema : bool
        Create or upgrade the schema on open (Alembic). Upgrades keep every row.
    """

    def __init__(self, url: str | os.PathLike[str] | None = None, *, migrate_schema: bool = True):
        self.url = resolve_url(url)
        self.backend = self.url.get_backend_name()
        self._engine = make_engine(self.url)
        self._insert = (postgresql if self.backend == "postgresql" else sqlite).insert
        self._sql = {
            "events": self._compile_insert(tables.events, _EVENT_COLUMNS, ["id"]),
            "learners": self._compile_insert(
                tables.learners,
                ["course_id", "learner_id", "first_seen_us"],
                ["course_id", "learner_id"],
                keep_earliest="first_seen_us",
            ),
            "items": self._compile_insert(
                tables.items,
                ["course_id", "item_id", "skills", "difficulty"],
                ["course_id", "item_id"],
            ),
        }
        if migrate_schema:
            migrate.upgrade(self._engine)

    def __repr__(self) -> str:
        return f"EventStore({redacted(self.url)!r})"

    def __enter__(self) -> EventStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        self._engine.dispose()

    @contextmanager
    def _writing(self) -> Iterator[Connection]:
        """One write transaction: everything in it lands, or nothing does."""
        with self._engine.connect() as connection:
            connection = connection.execution_options(**{WRITE_OPTION: True})
            with connection.begin():
                yield connection

    # -- writing ---------------------------------------------------------------------------

    def append(
        self, events: Iterable[Mapping[str, Any]] | pl.DataFrame, *, progress: bool = False
    ) -> AppendResult:
        """Validate and store a batch of events atomically and idempotently.

        Parameters
        ----------
        events : iterable of event records, or polars.DataFrame (an event frame)
            Records as accepted by :func:`learnpulse.events.validate_events`.

        Returns
        -------
        AppendResult
            Events stored now; an event whose id is already stored is skipped, not an error.

        Raises
        ------
        learnpulse.events.EventValidationError
            If any event is invalid; then nothing is written.
        """
        if isinstance(events, pl.DataFrame):
            return self.append_course(CourseData(events=validate_frame(events)), progress=progress)
        outcome = self.append_batches([events])[0]
        if isinstance(outcome, EventValidationError):
            raise outcome
        return outcome

    def append_batches(
        self, batches: Sequence[Iterable[Mapping[str, Any]]]
    ) -> list[AppendResult | EventValidationError]:
        """Validate each batch on its own and store the valid ones in one transaction.

        One commit for many batches (group commit): a server appends the batches of
        concurrent requests together, and each request still gets its own answer.

        Returns
        -------
        list of AppendResult or EventValidationError, one per batch in order
            A batch with an invalid event is not written at all and gets its error.
        """
        prepared: list[list[tuple[Any, ...]] | EventValidationError] = []
        for events in batches:
            try:
                prepared.append(_record_rows(validate_events(events, encode_payload=True)))
            except EventValidationError as error:
                prepared.append(error)
        with self._writing() as connection:
            return [
                rows
                if isinstance(rows, EventValidationError)
                else AppendResult(len(rows), self._insert_events(connection, rows))
                for rows in prepared
            ]

    def append_course(
        self,
        data: CourseData,
        *,
        progress: bool = False,
        chunk_rows: int = WRITE_CHUNK_ROWS,
        keep_stored: bool = False,
    ) -> AppendResult:
        """Store a whole course (events, learners, items, skills) in one transaction.

        Parameters
        ----------
        data : CourseData
        keep_stored : bool
            Keep the learner, item and skill rows already stored, adding only new ones: for
            tables derived from the events alone (an xAPI or ASSISTments import), which know
            no prerequisites, skill names, exercise titles or learner attributes. By default
            a stored row takes the new values.
        """
        frame = validate_frame(data.events)
        inserted = 0
        with self._writing() as connection:
            self._upsert(connection, tables.skills, data.skills, ["prerequisites"], keep_stored)
            self._upsert(connection, tables.items, data.items, ["skills"], keep_stored)
            self._upsert(connection, tables.learners, data.learners, [], keep_stored)
            chunks = range(0, frame.height, chunk_rows)
            for start in tqdm(chunks, desc="storing events", unit="chunk", disable=not progress):
                rows = _storage_rows(frame.slice(start, chunk_rows))
                inserted += self._insert_events(connection, rows)
        return AppendResult(frame.height, inserted)

    def _compile_insert(
        self,
        table: Any,
        columns: Sequence[str],
        conflict: list[str],
        *,
        keep_earliest: str | None = None,
    ) -> str:
        """INSERT ... ON CONFLICT DO NOTHING with positional parameters in ``columns`` order.

        With ``keep_earliest``, a row already stored instead takes that column's new value
        when it is earlier, or the stored one is NULL (events may arrive out of time order).
        Rows then go to the driver as plain tuples: building SQLAlchemy parameter dicts
        per row would cost as much as the insert itself.
        """
        dialect = type(self._engine.dialect)(
            paramstyle="qmark" if self.backend == "sqlite" else "format"
        )
        statement = self._insert(table)
        if keep_earliest is None:
            statement = statement.on_conflict_do_nothing(index_elements=conflict)
        else:
            stored, offered = table.c[keep_earliest], statement.excluded[keep_earliest]
            statement = statement.on_conflict_do_update(
                index_elements=conflict,
                set_={keep_earliest: offered},
                where=stored.is_(None) | (offered < stored),
            )
        compiled = statement.compile(dialect=dialect, column_keys=list(columns))
        assert list(compiled.positiontup) == list(columns), compiled.positiontup
        return str(compiled)

    def _insert_events(self, connection: Connection, rows: list[tuple[Any, ...]]) -> int:
        """Insert event rows, skipping stored ids; record new learners and items."""
        if not rows:
            return 0
        inserted = connection.exec_driver_sql(self._sql["events"], rows).rowcount
        learners: dict[tuple[str, str], int] = {}
        items: dict[tuple[str, str], tuple[Any, Any]] = {}
        for row in rows:
            ts, course, learner, item = row[_TS], row[_COURSE], row[_LEARNER], row[_ITEM]
            if learners.get((course, learner), ts) >= ts:
                learners[course, learner] = ts
            if item is not None and (course, item) not in items:
                items[course, item] = (row[_SKILLS], row[_DIFFICULTY])
        connection.exec_driver_sql(
            self._sql["learners"], [(*key, ts) for key, ts in learners.items()]
        )
        if items:
            connection.exec_driver_sql(
                self._sql["items"], [(*key, *value) for key, value in items.items()]
            )
        return inserted

    def _upsert(
        self,
        connection: Connection,
        table: Any,
        frame: pl.DataFrame,
        list_columns: list[str],
        keep_stored: bool = False,
    ) -> None:
        """Insert rows, replacing the non-key columns of rows that already exist (or, with
        ``keep_stored``, leaving those rows as they are)."""
        if frame.is_empty():
            return
        rows = frame.with_columns([_json_list(c) for c in list_columns]).to_dicts()
        keys = [c.name for c in table.primary_key.columns]
        statement = self._insert(table)
        if keep_stored:
            connection.execute(statement.on_conflict_do_nothing(index_elements=keys), rows)
            return
        updates = {c: statement.excluded[c] for c in frame.columns if c not in keys}
        connection.execute(statement.on_conflict_do_update(index_elements=keys, set_=updates), rows)

    def upsert_learners(self, frame: pl.DataFrame) -> None:
        """Add or update learners (``LEARNER_FRAME_SCHEMA``)."""
        with self._writing() as connection:
            self._upsert(connection, tables.learners, CourseData(learners=frame).learners, [])

    def upsert_items(self, frame: pl.DataFrame) -> None:
        """Add or update items (``ITEM_FRAME_SCHEMA``)."""
        with self._writing() as connection:
            self._upsert(connection, tables.items, CourseData(items=frame).items, ["skills"])

    def forget(self, learner_id: str, *, course: str | None = None) -> dict[str, int]:
        """Erase one learner's events, learner rows and training runs (in one course, or
        everywhere), in one transaction.

        Returns
        -------
        dict
            Rows deleted per table: ``{"events": n, "learners": m, "training_runs": r,
            "training_metrics": s}``.
        """
        deleted = {}
        with self._writing() as connection:
            for name, table in (("events", tables.events), ("learners", tables.learners)):
                statement = delete(table).where(table.c.learner_id == learner_id)
                if course is not None:
                    statement = statement.where(table.c.course_id == course)
                deleted[name] = connection.execute(statement).rowcount
            deleted.update(delete_training_runs(connection, learner_id, course))
        return deleted

    # -- reading ---------------------------------------------------------------------------

    def query(
        self,
        *,
        course: str | None = None,
        learners: str | Sequence[str] | None = None,
        kinds: str | Sequence[str] | None = None,
        items: str | Sequence[str] | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        after_seq: int | None = None,
        limit: int | None = None,
        order: str = "ts",
        with_seq: bool = False,
        exclude_staff: bool = False,
    ) -> pl.DataFrame:
        """Events matching every given filter, as an event frame ordered by time.

        Parameters
        ----------
        course, learners, kinds, items
            Keep events of this course / these learners / kinds / items (a str or a list).
        since, until : datetime, optional
            Timezone-aware bounds: ``since <= ts < until``.
        after_seq, limit, order
            Paging: events stored after sequence number ``after_seq``, at most ``limit``,
            ordered by ``"ts"`` (time, then arrival) or ``"seq"`` (arrival).
        with_seq : bool
            Add the store's arrival sequence number as column ``seq`` (for paging).
        exclude_staff : bool
            Leave out the events of the staff (:meth:`add_staff`): what a view of the class
            reads, so that an instructor trying the tutor is not one of its learners.

        Returns
        -------
        polars.DataFrame, shape (n_events, 16 or 17)
            Columns of :data:`learnpulse.events.EVENT_FRAME_SCHEMA` (plus ``seq``).
        """
        t = tables.events
        statement = select(t.c.seq, *[t.c[c] for c in ("id", "ts_us", *EVENT_FIELDS[2:])])
        for column, wanted in (
            ("course_id", course),
            ("learner_id", learners),
            ("kind", kinds),
            ("item_id", items),
        ):
            if wanted is not None:
                values = [wanted] if isinstance(wanted, str) else list(wanted)
                statement = statement.where(t.c[column].in_(values))
        if exclude_staff:
            statement = statement.where(not_staff(t.c.learner_id))
        for bound, compare in ((since, t.c.ts_us.__ge__), (until, t.c.ts_us.__lt__)):
            if bound is not None:
                statement = statement.where(compare(_to_us(bound)))
        if after_seq is not None:  # within int64: SQLite's driver overflowed beyond it
            statement = statement.where(t.c.seq > min(max(after_seq, -_INT64_MAX), _INT64_MAX))
        if order not in ("ts", "seq"):
            raise ValueError(f"order must be 'ts' or 'seq', not {order!r}")
        if limit is not None and limit < 0:  # SQLite read -1 as "no limit", PostgreSQL failed
            raise ValueError(f"limit must be 0 or more, not {limit}")
        statement = statement.order_by(*((t.c.ts_us, t.c.seq) if order == "ts" else (t.c.seq,)))
        if limit is not None:
            statement = statement.limit(limit)
        raw = read_events(
            self._engine, self.url, statement, "ts_us", may_split=order == "ts" and limit is None
        )
        return _as_event_frame(raw, with_seq)

    def _table_frame(
        self,
        table: Any,
        course: str | None,
        list_columns: Sequence[str],
        exclude_staff: bool = False,
    ) -> pl.DataFrame:
        statement = select(table).order_by(*table.primary_key.columns)
        if exclude_staff:
            statement = statement.where(not_staff(table.c.learner_id))
        if course is not None:
            statement = statement.where(table.c.course_id == course)
        frame = read_frame(self._engine, statement)
        return frame.with_columns(
            [pl.col(c).str.json_decode(pl.List(pl.String)) for c in list_columns]
        )

    def learners(self, course: str | None = None, *, exclude_staff: bool = False) -> pl.DataFrame:
        """Learners with ``course_id``, ``learner_id``, ``first_seen`` and ``attributes``
        (without the staff's rows when ``exclude_staff``)."""
        frame = self._table_frame(tables.learners, course, [], exclude_staff)
        return frame.with_columns(
            pl.from_epoch(pl.col("first_seen_us"), time_unit="us")
            .dt.replace_time_zone("UTC")
            .alias("first_seen")
        ).drop("first_seen_us")

    def items(self, course: str | None = None) -> pl.DataFrame:
        return self._table_frame(tables.items, course, ["skills"])

    def skills(self, course: str | None = None) -> pl.DataFrame:
        return self._table_frame(tables.skills, course, ["prerequisites"])

    def load_course(self, course: str) -> CourseData:
        """One course back as :class:`CourseData` (what the loaders and simulator produce)."""
        return CourseData(
            events=self.query(course=course),
            learners=self.learners(course).select("course_id", "learner_id", "attributes"),
            items=self.items(course),
            skills=self.skills(course),
        )

    def courses(self) -> pl.DataFrame:
        """One row per course: learners (the staff are not counted), events, first and last
        event time."""
        t = tables.events
        learner = case((not_staff(t.c.learner_id), t.c.learner_id))  # NULL for the staff
        statement = (
            select(
                t.c.course_id,
                func.count(func.distinct(learner)).label("learners"),
                func.count().label("events"),
                func.min(t.c.ts_us).label("first_us"),
                func.max(t.c.ts_us).label("last_us"),
            )
            .group_by(t.c.course_id)
            .order_by(t.c.course_id)
        )
        with self._engine.connect() as connection:
            rows = connection.execute(statement).all()
        frame = pl.DataFrame(
            rows,
            schema={
                "course_id": pl.String,
                "learners": pl.Int64,
                "events": pl.Int64,
                "first_us": pl.Int64,
                "last_us": pl.Int64,
            },
            orient="row",
        )
        return frame.with_columns(
            pl.from_epoch(pl.col(c), time_unit="us")
            .dt.replace_time_zone("UTC")
            .alias(c.replace("_us", ""))
            for c in ("first_us", "last_us")
        ).drop("first_us", "last_us")

    def known_courses(self) -> pl.DataFrame:
        """One row per course the store knows: ``course_id``, ``learners`` (Int64).

        A course is known from its learners (every stored event records its learner; the
        staff are not counted) or from its skills and exercises (a course file stored before
        its first event, with 0 learners). Read from those small tables only, never by
        scanning the events, so a dashboard may list the courses at every visit. Sorted by
        ``course_id``.
        """
        learners = (
            select(tables.learners.c.course_id, func.count().label("learners"))
            .where(not_staff(tables.learners.c.learner_id))
            .group_by(tables.learners.c.course_id)
        )  # fmt: skip
        described = select(tables.skills.c.course_id).union(select(tables.items.c.course_id))
        with self._engine.connect() as connection:
            counts = dict(connection.execute(learners).all())
            ids = set(counts) | set(connection.execute(described).scalars())
        rows = [(course, counts.get(course, 0)) for course in sorted(ids)]
        return pl.DataFrame(
            rows, schema={"course_id": pl.String, "learners": pl.Int64}, orient="row"
        )

    def counts(self) -> dict[str, int]:
        """What the store holds: ``events``, ``learners`` (learner rows, one per learner and
        course, without the staff, as :meth:`known_courses` counts them), ``items``,
        ``skills``, ``courses`` (with events) and ``staff`` (users recorded as staff).

        A store opened without migrating it, from before the staff were recorded (schema
        revision 0003), has no staff: every learner row counts.
        """
        learners = select(func.count()).select_from(tables.learners)
        statements = {
            "events": select(func.count()).select_from(tables.events),
            "learners": learners,
            "items": select(func.count()).select_from(tables.items),
            "skills": select(func.count()).select_from(tables.skills),
            "courses": select(func.count(func.distinct(tables.events.c.course_id))),
        }
        with self._engine.connect() as connection:
            if inspect(connection).has_table(tables.staff.name):
                statements["learners"] = learners.where(not_staff(tables.learners.c.learner_id))
                statements["staff"] = select(func.count()).select_from(tables.staff)
            counts = {name: connection.execute(s).scalar_one() for name, s in statements.items()}
        counts.setdefault("staff", 0)
        return counts

    def status(self) -> dict[str, Any]:
        """Backend, URL (password hidden), schema revision and counts."""
        return {
            "backend": self.backend,
            "url": redacted(self.url),
            "schema_revision": migrate.current_revision(self._engine),
            "counts": self.counts(),
        }

    # -- export ----------------------------------------------------------------------------

    def export_parquet(self, path: str | os.PathLike[str], **filters: Any) -> int:
        """Write the events matching ``filters`` (as :meth:`query`) to Parquet; return rows."""
        frame = self.query(**filters)
        _write_atomically(path, frame.write_parquet)
        return frame.height

    def export_xapi(self, path: str | os.PathLike[str], **filters: Any) -> int:
        """Write matching events as xAPI statements (JSON array, or JSON Lines for ``.jsonl``)."""
        from learnpulse.datasets.xapi_files import write_xapi

        frame = self.query(**filters)
        _write_atomically(path, lambda tmp: write_xapi(frame, tmp))
        return frame.height


def _as_event_frame(raw: pl.DataFrame, with_seq: bool) -> pl.DataFrame:
    """Rows of the events table as an event frame (``ts`` as UTC datetime, skills as a list)."""
    columns = [
        pl.from_epoch(pl.col("ts_us"), time_unit="us").dt.replace_time_zone("UTC").alias("ts")
        if name == "ts"
        else pl.col(name).str.json_decode(dtype)
        if name == "skills"
        else pl.col(name).cast(dtype)
        for name, dtype in EVENT_FRAME_SCHEMA.items()
    ]
    return raw.select([pl.col("seq"), *columns] if with_seq else columns)


def _to_us(moment: datetime) -> int:
    if moment.tzinfo is None:
        raise ValueError("since/until must be timezone-aware datetimes")
    return (moment - _EPOCH) // _ONE_US


def _write_atomically(path: str | os.PathLike[str], write: Any) -> None:
    """Write through a temporary file and rename, so a failed export leaves no partial file."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_name(f".partial-{target.name}")
    try:
        write(temporary)
        temporary.replace(target)
    finally:
        temporary.unlink(missing_ok=True)
