"""Shared fixtures: public data location, and SQLite / PostgreSQL stores.

PostgreSQL tests use ``$LEARNPULSE_TEST_PG_URL`` if set (a server where the user may create
databases); otherwise a throwaway cluster is started from the local PostgreSQL binaries
(``initdb``/``pg_ctl``, e.g. Debian's ``postgresql`` package). With neither they are skipped,
except under ``CI=true``, where they fail: CI must test PostgreSQL.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import uuid
from pathlib import Path

import pytest

pytest_plugins = ["pytest_jupyter.jupyter_server"]

REPO = Path(__file__).resolve().parents[1]
PG_ENV = "LEARNPULSE_TEST_PG_URL"
PG_HOWTO = (
    f"PostgreSQL tests need a server: set {PG_ENV}=postgresql://user@host/db or install "
    "PostgreSQL (apt-get install postgresql) so that initdb and pg_ctl can be found"
)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The public data folder (../shared/data, or $LEARNPULSE_SHARED_DATA)."""
    path = Path(os.environ.get("LEARNPULSE_SHARED_DATA", REPO.parent / "shared" / "data"))
    if not path.is_dir():
        pytest.fail(f"public data not found at {path}; set LEARNPULSE_SHARED_DATA")
    return path


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def pg_server():
    """URL of a PostgreSQL server for the session: ``$LEARNPULSE_TEST_PG_URL``, else a
    throwaway cluster started by ``.ci/start-postgres`` and stopped at the end."""
    if os.environ.get(PG_ENV):
        yield os.environ[PG_ENV]
        return
    if not glob.glob("/usr/lib/postgresql/*/bin/initdb"):
        if os.environ.get("CI") == "true":
            pytest.fail(PG_HOWTO)
        pytest.skip(PG_HOWTO)
    env = {**os.environ, "LEARNPULSE_TEST_PG_PORT": str(_free_port())}
    started = subprocess.run(
        [str(REPO / ".ci" / "start-postgres")], env=env, capture_output=True, text=True, check=True
    )
    url, folder = started.stdout.split()
    try:
        yield url
    finally:
        pg_ctl = str(Path(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl")[-1]))
        stop = [pg_ctl, "-D", f"{folder}/data", "-m", "fast", "stop"]
        if os.geteuid() == 0:
            stop = ["runuser", "-u", "postgres", "--", *stop]
        subprocess.run(stop, capture_output=True, cwd="/tmp")
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def pg_url(pg_server):
    """A fresh, empty PostgreSQL database for one test."""
    import psycopg

    name = f"lp_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(pg_server, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base, _, _ = pg_server.rpartition("/")
    yield f"{base}/{name}"
    with psycopg.connect(pg_server, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request, tmp_path):
    """The URL of an empty store, once per backend."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'store.db'}"
    return request.getfixturevalue("pg_url")


@pytest.fixture
def store(store_url):
    from learnpulse.store import EventStore

    with EventStore(store_url) as event_store:
        yield event_store


def make_event(**fields):
    """A valid attempt event; keyword arguments override or add fields."""
    from datetime import datetime, timedelta, timezone

    offset = fields.pop("offset_s", 0)
    event = {
        "id": str(uuid.uuid4()),
        "ts": (
            datetime(2024, 9, 2, 9, tzinfo=timezone.utc) + timedelta(seconds=offset)
        ).isoformat(),
        "learner_id": "learner-1",
        "course_id": "course-a",
        "session_id": "session-1",
        "kind": "attempt",
        "item_id": "ex-1",
        "skills": ["loops"],
        "correct": True,
        "duration_ms": 1500,
        "attempt": 1,
    }
    event.update(fields)
    return event


@pytest.fixture(name="make_event")
def make_event_fixture():
    return make_event


def write_plugin(folder, module: str, source: str, group: str, points: str) -> None:
    """What ``pip install`` of a plugin leaves in ``folder``: module ``module`` with
    ``source``, and a dist-info declaring the ``group`` entry points (``"name = target"``
    lines). Put ``folder`` on ``sys.path`` to make it visible."""
    import textwrap

    folder = Path(folder)
    (folder / f"{module}.py").write_text(textwrap.dedent(source))
    info = folder / f"{module}-0.1.dist-info"
    info.mkdir()
    name = module.replace("_", "-")
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(f"[{group}]\n{points}\n")
