"""Bring a store's schema to the newest revision with Alembic; never drops data."""

from __future__ import annotations

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, text

from learnpulse.store.engine import WRITE_OPTION

#: Key of the PostgreSQL advisory lock an upgrade holds (until its commit), so that servers
#: opening a new store at once upgrade it one after the other: the first one builds the
#: schema, the others then find it at head. SQLite's BEGIN IMMEDIATE does the same.
PG_UPGRADE_LOCK_KEY = 0x6C70_7363_6865_6D61  # "lpschema"


class SchemaTooNewError(RuntimeError):
    """The store was written by a newer learnpulse than this one."""


def _config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", "learnpulse.store:migrations")
    config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    return ScriptDirectory.from_config(_config()).get_current_head()


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Apply every migration after the store's current revision, in one transaction."""
    script = ScriptDirectory.from_config(_config())
    current = current_revision(engine)
    if current is not None and current not in {r.revision for r in script.walk_revisions()}:
        raise SchemaTooNewError(
            f"the store's schema revision {current!r} is unknown to this learnpulse "
            f"(newest known: {script.get_current_head()!r}); upgrade learnpulse to open it"
        )
    if current == script.get_current_head() and revision == "head":
        return

    with engine.connect() as connection:
        connection = connection.execution_options(**{WRITE_OPTION: True})
        with connection.begin():
            if connection.dialect.name == "postgresql":
                lock = text("SELECT pg_advisory_xact_lock(:key)")
                connection.execute(lock, {"key": PG_UPGRADE_LOCK_KEY})
            command.upgrade(_config(connection), revision)
