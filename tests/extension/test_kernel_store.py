"""The store the server's kernels write to: the server's own ``db_url``, handed on when it is
a SQLite file; a PostgreSQL URL (with its password) is not, and the server says so."""

from __future__ import annotations

import os

import pytest

from learnpulse.store.engine import DB_URL_ENV, resolve_url
from tests.extension.conftest import learnpulse_app


async def test_the_server_hands_its_sqlite_store_to_kernels_and_takes_it_back(
    jp_serverapp, lp_db_url
):
    """With db_url set only in the config, the kernels stored their events under the Jupyter
    data dir, in a store the server never read."""
    assert resolve_url(os.environ[DB_URL_ENV]) == resolve_url(lp_db_url)
    await learnpulse_app(jp_serverapp).stop_extension()
    assert DB_URL_ENV not in os.environ


@pytest.fixture
def users_store(jp_environ, monkeypatch, tmp_path):
    """A store the user gave the kernels before the server started."""
    monkeypatch.setenv(DB_URL_ENV, f"sqlite:///{tmp_path / 'mine.db'}")


async def test_a_store_the_user_set_is_kept_and_the_difference_logged(
    capfd, users_store, jp_serverapp, tmp_path
):
    assert os.environ[DB_URL_ENV] == f"sqlite:///{tmp_path / 'mine.db'}"
    logged = capfd.readouterr().err
    assert f"kernels store events in ${DB_URL_ENV}=sqlite:///{tmp_path / 'mine.db'}" in logged
    assert "this server does not see them" in logged
    await learnpulse_app(jp_serverapp).stop_extension()
    assert os.environ[DB_URL_ENV] == f"sqlite:///{tmp_path / 'mine.db'}"


@pytest.fixture
def jp_server_config(request, lp_db_url):
    url = request.getfixturevalue("pg_url") if "postgres" in request.node.name else lp_db_url
    return {
        "ServerApp": {"jpserver_extensions": {"learnpulse_server": True}},
        "LearnPulseApp": {"db_url": url},
    }


async def test_a_postgres_password_is_not_put_in_the_kernels_environment(
    capfd, jp_environ, jp_serverapp, pg_url
):
    assert DB_URL_ENV not in os.environ
    logged = capfd.readouterr().err
    assert "kernels started by this server store events in sqlite:///" in logged
    assert f"set ${DB_URL_ENV}" in logged
    password = resolve_url(pg_url).password
    assert not password or password not in logged
