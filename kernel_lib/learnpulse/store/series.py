"""Time series in the store: training runs and their metrics, and system samples.

They live in their own tables, not in the event log (see DESIGN.md). :class:`TimeSeriesStore`
is a mixin of :class:`~learnpulse.store.EventStore`; it uses the store's engine and write
transactions and, like the rest of the store, is the only place these tables are written.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from typing import Any

import polars as pl
from sqlalchemy import delete, select

from learnpulse.store import tables
from learnpulse.store.reading import read_frame

#: Metric columns of ``training_metrics``; other numbers logged go to ``extra`` (JSON).
TRAINING_METRIC_COLUMNS = ("epoch", "step", "loss", "val_loss", "lr", "accuracy", "val_accuracy")
#: Summary columns of ``system_samples``; the whole sample is kept in ``detail`` (JSON).
SYSTEM_SAMPLE_COLUMNS = (
    "cpu_percent",
    "memory_percent",
    "disk_percent",
    "gpu_memory_percent",
    "response_ms",
    "health",
)
RUN_STATUSES = ("running", "finished", "failed")
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


class UnknownTrainingRun(LookupError):
    """No stored training run of that id is the learner's: there is none, or another
    learner's (which is not said: to them it does not exist)."""

    def __init__(self, run_id: str, learner_id: str):
        super().__init__(f"no training run {run_id!r} of learner {learner_id!r}")
        self.run_id, self.learner_id = run_id, learner_id


def _owner(connection, run_id: str) -> str | None:
    """The learner of stored run ``run_id`` (None if unknown), locked until the caller's
    transaction ends on PostgreSQL (SQLite's write transaction holds the whole file)."""
    runs = tables.training_runs
    statement = select(runs.c.learner_id).where(runs.c.run_id == run_id).with_for_update()
    return connection.execute(statement).scalar_one_or_none()


def _us(moment: datetime | None, field: str) -> int | None:
    if moment is None:
        return None
    if not isinstance(moment, datetime) or moment.tzinfo is None:
        raise ValueError(f"field '{field}' must be a timezone-aware datetime, not {moment!r}")
    delta = moment - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def _finite(value: Any, field: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"field '{field}' must be a finite number, not {value!r}")
    return float(value)


def _datetimes(frame: pl.DataFrame, columns: Sequence[str]) -> pl.DataFrame:
    """Integer-microsecond columns ``<name>_us`` as UTC datetime columns ``<name>``."""
    return frame.with_columns(
        pl.from_epoch(pl.col(f"{c}_us"), time_unit="us").dt.replace_time_zone("UTC").alias(c)
        for c in columns
    ).drop([f"{c}_us" for c in columns])


class TimeSeriesStore:
    """Training runs, training metrics and system samples (mixed into ``EventStore``)."""

    # -- training ------------------------------------------------------------------------

    def save_training_run(self, run: Mapping[str, Any]) -> None:
        """Insert or update one run (an update changes ``ended``, ``status`` and ``params``).

        Parameters
        ----------
        run : mapping
            ``run_id``, ``name``, ``learner_id``, ``course_id``, ``started`` (aware datetime),
            ``status`` (running | finished | failed), optional ``ended`` and ``params`` (dict).

        Raises
        ------
        UnknownTrainingRun
            When ``run_id`` is stored as another learner's run (it is left as it was).
        """
        if run.get("status") not in RUN_STATUSES:
            raise ValueError(
                f"field 'status' must be one of {RUN_STATUSES}, not {run.get('status')!r}"
            )
        for field in ("run_id", "name", "learner_id", "course_id"):
            if not isinstance(run.get(field), str) or not run[field]:
                raise ValueError(f"field '{field}' must be a non-empty string")
        row = {
            "run_id": run["run_id"],
            "name": run["name"],
            "learner_id": run["learner_id"],
            "course_id": run["course_id"],
            "started_us": _us(run.get("started"), "started"),
            "ended_us": _us(run.get("ended"), "ended"),
            "status": run["status"],
            "params": json.dumps(run.get("params") or {}, default=str),
        }
        runs = tables.training_runs
        statement = self._insert(runs)
        keep = {c: statement.excluded[c] for c in ("ended_us", "status", "params")}
        upsert = statement.on_conflict_do_update(
            index_elements=["run_id"], set_=keep, where=runs.c.learner_id == row["learner_id"]
        )
        with self._writing() as connection:  # no row back: the run is another learner's
            saved = connection.execute(upsert.returning(runs.c.run_id), row).first()
        if saved is None:
            raise UnknownTrainingRun(run["run_id"], run["learner_id"])

    def append_training_metrics(
        self, run_id: str, rows: Sequence[Mapping[str, Any]], *, learner_id: str | None = None
    ) -> int:
        """Store logged metrics of one run; a row whose ``seq`` is already stored is skipped.

        Parameters
        ----------
        rows : sequence of mappings
            Each with ``seq`` (int, position in the run), ``ts`` (aware datetime), any of
            :data:`TRAINING_METRIC_COLUMNS`, and ``extra`` (dict of other numbers).
        learner_id : str, optional
            Store the rows only if ``run_id`` is a stored run of this learner, checked in the
            same transaction (else :class:`UnknownTrainingRun` and nothing is stored).

        Returns
        -------
        int
            Rows newly stored.
        """
        records = [
            {
                "run_id": run_id,
                "seq": int(row["seq"]),
                "ts_us": _us(row["ts"], "ts"),
                **{c: _finite(row.get(c), c) for c in TRAINING_METRIC_COLUMNS},
                "extra": json.dumps(row["extra"]) if row.get("extra") else None,
            }
            for row in rows
        ]
        for record, row in zip(records, rows, strict=True):
            for name in ("epoch", "step"):
                if record[name] is not None:
                    record[name] = int(row[name])  # not through float: exact beyond 2**53
        if not records and learner_id is None:
            return 0
        metrics = tables.training_metrics
        statement = self._insert(metrics).on_conflict_do_nothing(index_elements=["run_id", "seq"])
        with self._writing() as connection:
            if learner_id is not None and _owner(connection, run_id) != learner_id:
                raise UnknownTrainingRun(run_id, learner_id)
            if not records:
                return 0
            # the rows inserted, counted as returned: psycopg's rowcount of a batch is -1
            return len(connection.execute(statement.returning(metrics.c.seq), records).all())

    def training_runs(
        self, *, learners: Sequence[str] | None = None, run_ids: Sequence[str] | None = None
    ) -> pl.DataFrame:
        """Runs (newest first), optionally of some learners or ids.

        Returns
        -------
        polars.DataFrame, shape (n_runs, 8)
            run_id, name, learner_id, course_id, status, params (JSON text), started, ended.
        """
        t = tables.training_runs
        statement = select(t).order_by(t.c.started_us.desc(), t.c.run_id)
        if learners is not None:
            statement = statement.where(t.c.learner_id.in_(list(learners)))
        if run_ids is not None:
            statement = statement.where(t.c.run_id.in_(list(run_ids)))
        return _datetimes(read_frame(self._engine, statement), ["started", "ended"])

    def training_metrics(self, run_ids: str | Sequence[str]) -> pl.DataFrame:
        """Logged metrics of the given runs in logging order.

        Returns
        -------
        polars.DataFrame, shape (n_logs, 11)
            run_id, seq, epoch, step, loss, val_loss, lr, accuracy, val_accuracy, extra, ts.
        """
        t = tables.training_metrics
        ids = [run_ids] if isinstance(run_ids, str) else list(run_ids)
        statement = select(t).where(t.c.run_id.in_(ids)).order_by(t.c.run_id, t.c.seq)
        return _datetimes(read_frame(self._engine, statement), ["ts"])

    # -- system samples ------------------------------------------------------------------

    def append_system_samples(self, samples: Sequence[Mapping[str, Any]]) -> int:
        """Store system samples (``host``, ``ts`` and :data:`SYSTEM_SAMPLE_COLUMNS`; the whole
        mapping is also kept as ``detail``). A (host, ts) already stored is skipped."""
        records = [
            {
                "host": str(sample["host"]),
                "ts_us": _us(sample["ts"], "ts"),
                **{c: _finite(sample.get(c), c) for c in SYSTEM_SAMPLE_COLUMNS},
                "detail": json.dumps(sample, default=str),
            }
            for sample in samples
        ]
        if not records:
            return 0
        samples = tables.system_samples
        statement = self._insert(samples).on_conflict_do_nothing(index_elements=["host", "ts_us"])
        with self._writing() as connection:
            # counted as returned: psycopg's rowcount of a batch is -1
            return len(connection.execute(statement.returning(samples.c.ts_us), records).all())

    def system_samples(
        self,
        *,
        host: str | None = None,
        since: datetime | None = None,
        limit: int | None = None,
    ) -> pl.DataFrame:
        """Stored system samples, oldest first (the newest ``limit`` if given).

        Returns
        -------
        polars.DataFrame, shape (n_samples, 9)
            host, the summary columns, detail (JSON text), ts.
        """
        t = tables.system_samples
        statement = select(t).order_by(t.c.ts_us.desc())
        if host is not None:
            statement = statement.where(t.c.host == host)
        if since is not None:
            statement = statement.where(t.c.ts_us >= _us(since, "since"))
        if limit is not None:
            statement = statement.limit(limit)
        return _datetimes(read_frame(self._engine, statement), ["ts"]).reverse()

    def prune_system_samples(self, before: datetime) -> int:
        """Delete samples older than ``before`` (retention); return how many."""
        t = tables.system_samples
        with self._writing() as connection:
            return connection.execute(delete(t).where(t.c.ts_us < _us(before, "before"))).rowcount

    # -- erasure -------------------------------------------------------------------------

    def forget_training_runs(self, learner_id: str, *, course: str | None = None) -> dict[str, int]:
        """Erase one learner's training runs and their metrics (in one course, or everywhere).

        Returns
        -------
        dict
            Rows deleted per table: ``{"training_runs": n, "training_metrics": m}``.
        """
        with self._writing() as connection:
            return delete_training_runs(connection, learner_id, course)


def delete_training_runs(connection, learner_id: str, course: str | None) -> dict[str, int]:
    """Delete a learner's runs and their metrics inside the caller's transaction."""
    runs = tables.training_runs
    owned = select(runs.c.run_id).where(runs.c.learner_id == learner_id)
    if course is not None:
        owned = owned.where(runs.c.course_id == course)
    metrics = tables.training_metrics
    ids = list(connection.execute(owned).scalars())
    deleted_metrics = connection.execute(delete(metrics).where(metrics.c.run_id.in_(ids))).rowcount
    deleted_runs = connection.execute(delete(runs).where(runs.c.run_id.in_(ids))).rowcount
    return {"training_runs": deleted_runs, "training_metrics": deleted_metrics}
