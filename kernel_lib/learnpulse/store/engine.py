"""Where the store lives and how to connect to it (SQLite default, PostgreSQL supported)."""

from __future__ import annotations

import os
import sqlite3
import time
from pathlib import Path

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, make_url

#: Environment variable that overrides the default store URL.
DB_URL_ENV = "LEARNPULSE_DB_URL"
#: Seconds a SQLite writer waits for another process's write lock before giving up.
SQLITE_BUSY_TIMEOUT_S = 30.0
#: Execution option that marks a connection as a writer (SQLite takes the write lock up front).
WRITE_OPTION = "learnpulse_write"
#: WAL pages after which a commit copies the log into the database file (SQLite's default is
#: 1,000). A batch of 1,000 events dirties a few hundred pages, so the default checkpointed
#: every few batches, rewriting the same index pages each time: a third of a commit's time.
SQLITE_WAL_AUTOCHECKPOINT_PAGES = 10_000


def default_db_url() -> str:
    """``$LEARNPULSE_DB_URL``, else a SQLite file under the Jupyter data dir."""
    if os.environ.get(DB_URL_ENV):
        return os.environ[DB_URL_ENV]
    from jupyter_core.paths import jupyter_data_dir

    return f"sqlite:///{Path(jupyter_data_dir()) / 'learnpulse' / 'learnpulse.db'}"


def resolve_url(url: str | os.PathLike[str] | URL | None) -> URL:
    """A SQLAlchemy URL from a URL string, a plain file path (SQLite), a SQLAlchemy URL (a
    store's own ``url``) or None (the default).

    PostgreSQL URLs without a driver use psycopg 3.
    """
    if isinstance(url, URL):  # os.fspath refused it: EventStore(store.url) was a TypeError
        url = url.render_as_string(hide_password=False)
    text = default_db_url() if url is None else os.fspath(url)
    if "://" not in text:
        text = f"sqlite:///{Path(text).expanduser().resolve()}"
    parsed = make_url(text)
    if parsed.get_backend_name() == "postgresql" and parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    if parsed.get_backend_name() not in ("sqlite", "postgresql"):
        raise ValueError(
            f"unsupported store URL {parsed.render_as_string()!r}: "
            "use sqlite:///path/to/file.db or postgresql://user@host/db"
        )
    return parsed


def make_engine(url: URL) -> Engine:
    """An engine tuned for the backend: SQLite gets WAL, a busy timeout and write locks
    taken at BEGIN, so concurrent writer processes queue instead of failing mid-transaction."""
    if url.get_backend_name() != "sqlite":
        return create_engine(url, pool_pre_ping=True)
    database = url.database or ""
    if database and database != ":memory:":
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_S})

    @event.listens_for(engine, "connect")
    def _configure(dbapi_connection, _record) -> None:
        # Transactions are begun by the listener below, not by the sqlite3 module.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout={int(SQLITE_BUSY_TIMEOUT_S * 1000)}")
        _use_wal(cursor)
        # In WAL mode NORMAL still survives a crash of the process (not of the OS).
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute(f"PRAGMA wal_autocheckpoint={SQLITE_WAL_AUTOCHECKPOINT_PAGES}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(connection) -> None:
        immediate = connection.get_execution_options().get(WRITE_OPTION)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


def _use_wal(cursor: sqlite3.Cursor) -> None:
    """Switch the file to WAL (a setting stored in the file, so once per store).

    The switch needs an exclusive lock; two connections opening a new file at once can
    deadlock on it, and SQLite then fails one at once instead of waiting, so retry briefly.
    """
    deadline = time.monotonic() + SQLITE_BUSY_TIMEOUT_S
    while cursor.execute("PRAGMA journal_mode").fetchone()[0].lower() not in ("wal", "memory"):
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) or time.monotonic() > deadline:
                raise
            time.sleep(0.01)


def connectorx_uri(url: URL) -> str | None:
    """The URI connectorx reads from, or None when it cannot read this store."""
    if url.get_backend_name() == "sqlite":
        database = url.database or ""
        return None if database in ("", ":memory:") else f"sqlite://{Path(database).resolve()}"
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


def redacted(url: URL) -> str:
    return url.render_as_string(hide_password=True)
