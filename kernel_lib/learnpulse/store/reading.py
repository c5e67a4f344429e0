"""Reading query results into polars.

Large SQLite results are read by connectorx (Rust, straight into Arrow) in a helper process,
:mod:`learnpulse.store.bulk_reader`. Never in this process: connectorx carries its own copy
of SQLite, and two SQLite libraries on one file in one process break each other's POSIX locks
(SQLite's "how to corrupt" list), which shows up as "disk I/O error" with WAL. Small SQLite
results use the standard library's sqlite3; PostgreSQL is read by connectorx in-process.
"""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import polars as pl
from sqlalchemy import Boolean, Engine, Float, Integer, Select, func, select
from sqlalchemy.engine import URL

from learnpulse.store.engine import connectorx_uri

#: SQLite results with more rows than this go through the connectorx helper process
#: (its start-up costs about 0.3 s, which pays off from roughly this size).
SQLITE_BULK_READ_ROWS = 150_000
#: Time-range partitions a bulk read is split into, read in parallel threads.
BULK_READ_PARTITIONS = 4
_BULK_READER = Path(__file__).with_name("bulk_reader.py")


def _polars_type(sql_type: Any) -> pl.DataType:
    if isinstance(sql_type, Boolean):
        return pl.Boolean()
    if isinstance(sql_type, Integer):
        return pl.Int64()
    if isinstance(sql_type, Float):
        return pl.Float64()
    return pl.String()


def result_schema(statement: Select) -> dict[str, pl.DataType]:
    """Column name -> polars dtype of a SELECT's result."""
    return {c.name: _polars_type(c.type) for c in statement.selected_columns}


def _literal_sql(engine: Engine, statement: Select) -> str:
    # connectorx takes no bound parameters; literal rendering escapes every value. Rendered
    # for psycopg's "pyformat" parameters it would also double every "%" for the driver,
    # which connectorx does not undo: a filter on "100%" matched nothing on PostgreSQL.
    dialect = type(engine.dialect)(paramstyle="named")
    return str(statement.compile(dialect=dialect, compile_kwargs={"literal_binds": True}))


def _conform(frame: pl.DataFrame, schema: dict[str, pl.DataType]) -> pl.DataFrame:
    if frame.is_empty():
        return pl.DataFrame(schema=schema)
    return frame.select(pl.col(name).cast(dtype) for name, dtype in schema.items())


def read_frame(engine: Engine, statement: Select) -> pl.DataFrame:
    """Run a SELECT through SQLAlchemy and return a frame typed from the statement."""
    schema = result_schema(statement)
    with engine.connect() as connection:
        rows = connection.execute(statement).all()
    return pl.DataFrame(rows, schema=schema, orient="row")


def read_events(
    engine: Engine, url: URL, statement: Select, ts_column: str, *, may_split: bool = True
) -> pl.DataFrame:
    """Run an events SELECT and return its rows as a frame.

    With ``may_split`` (the statement is ordered by ``ts_column`` and has no LIMIT), a large
    SQLite result is read as consecutive time ranges in parallel.
    """
    schema = result_schema(statement)
    uri = connectorx_uri(url)
    if uri is not None and url.get_backend_name() == "postgresql":
        import connectorx

        table = connectorx.read_sql(uri, _literal_sql(engine, statement), return_type="arrow")
        return _conform(pl.from_arrow(table), schema)
    if uri is None or not may_split:
        return read_frame(engine, statement)
    matching = statement.order_by(None).subquery()
    ts = matching.c[ts_column]
    bounds = select(func.count(), func.min(ts), func.max(ts))
    with engine.connect() as connection:
        count, low, high = connection.execute(bounds).one()
    if count <= SQLITE_BULK_READ_ROWS:
        return read_frame(engine, statement)
    cuts = [
        low + (high + 1 - low) * k // BULK_READ_PARTITIONS for k in range(BULK_READ_PARTITIONS + 1)
    ]
    ts = statement.selected_columns[ts_column]
    parts = [statement.where(ts >= a, ts < b) for a, b in itertools.pairwise(cuts)]
    return _conform(_bulk_read(uri, [_literal_sql(engine, p) for p in parts]), schema)


def _bulk_read(uri: str, queries: list[str]) -> pl.DataFrame:
    """Read the queries' results, concatenated in order, through the helper process."""
    # Memory-backed when the system has it: the file only carries data between processes.
    shm = "/dev/shm" if os.access("/dev/shm", os.W_OK) else None
    handle, path = tempfile.mkstemp(prefix="learnpulse-read-", suffix=".arrow", dir=shm)
    os.close(handle)
    try:
        request = json.dumps({"uri": uri, "queries": queries, "out": path})
        # Run by path, not with -m: importing the learnpulse package would cost ~1 s.
        done = subprocess.run(
            [sys.executable, str(_BULK_READER)], input=request.encode(), capture_output=True
        )
        if done.returncode != 0:
            raise RuntimeError(f"bulk read failed: {done.stderr.decode(errors='replace')}")
        return pl.read_ipc(path)
    finally:
        os.unlink(path)
