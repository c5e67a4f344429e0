"""Schema versioning: migrations build exactly the tables the code expects, never lose data."""

from __future__ import annotations

import subprocess
import sys

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, text

from learnpulse.store import EventStore, SchemaTooNewError, migrate
from learnpulse.store.engine import resolve_url
from learnpulse.store.tables import metadata


def test_migrations_match_the_table_definitions(store_url):
    EventStore(store_url).close()
    engine = create_engine(resolve_url(store_url))
    with engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), metadata)
    engine.dispose()
    assert diff == []


def test_head_is_applied_and_reopening_changes_nothing(store_url, make_event):
    with EventStore(store_url) as store:
        store.append([make_event()])
        assert store.status()["schema_revision"] == migrate.head_revision()
    with EventStore(store_url) as again:
        assert again.counts()["events"] == 1


def test_servers_opening_a_new_store_at_once_all_get_it(store_url):
    # e.g. the user servers of a class starting together on a fresh PostgreSQL database:
    # all but one failed, each building the tables the first one was building too
    opener = "import sys; from learnpulse.store import EventStore; EventStore(sys.argv[1]).close()"
    procs = [
        subprocess.Popen([sys.executable, "-c", opener, store_url], stderr=subprocess.PIPE)
        for _ in range(4)
    ]
    for proc in procs:
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err.decode()[-2000:]
    with EventStore(store_url, migrate_schema=False) as store:
        assert store.status()["schema_revision"] == migrate.head_revision()


def test_a_store_from_a_newer_learnpulse_is_refused_untouched(tmp_path, make_event):
    url = f"sqlite:///{tmp_path / 'future.db'}"
    with EventStore(url) as store:
        store.append([make_event()])
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = '9999_future'"))
    with pytest.raises(SchemaTooNewError, match=r"9999_future.*upgrade learnpulse"):
        EventStore(url)
    with engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM events")).scalar() == 1
    engine.dispose()
