"""The store the server's kernels write to: the server's own ``db_url``, handed on when it is
a SQLite file; a PostgreSQL URL (with its password) is not: the kernels write through the
server instead."""

from __future__ import annotations

import asyncio
import json
import os

import pytest

from learnpulse.collectors import server_store
from learnpulse.collectors.destinations import SERVER_URL_ENV, TOKEN_ENV
from learnpulse.collectors.server_store import ServerStore
from learnpulse.events import EVENT_FRAME_SCHEMA
from learnpulse.store import EventStore
from learnpulse.store.engine import DB_URL_ENV, resolve_url
from tests.extension.conftest import learnpulse_app
from tests.extension.kernel_channels import execute


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


async def test_a_postgres_store_is_reached_through_the_server_not_its_password(
    capfd, jp_environ, jp_serverapp, pg_url
):
    """The kernels stored their events in a local SQLite file the server never read, unless
    a spawner set $LEARNPULSE_DB_URL or $LEARNPULSE_SERVER_URL."""
    await asyncio.sleep(0)  # the server's URL is handed once its loop runs (the port is known)
    assert DB_URL_ENV not in os.environ
    url = f"http://127.0.0.1:{jp_serverapp.port}{jp_serverapp.base_url}"
    assert os.environ[SERVER_URL_ENV] == url
    assert os.environ[TOKEN_ENV] == jp_serverapp.identity_provider.token
    logged = capfd.readouterr().err
    assert f"kernels get {SERVER_URL_ENV}={url}" in logged
    assert jp_serverapp.identity_provider.token not in logged
    password = resolve_url(pg_url).password
    assert not password or password not in logged
    await learnpulse_app(jp_serverapp).stop_extension()
    assert SERVER_URL_ENV not in os.environ and TOKEN_ENV not in os.environ


#: The owner's notebook: an exercise checked, a question to the tutor and a follow-up, what
#: the session reads its history from, and the events delivered before the test reads them.
OWNER_CELLS = (
    "%load_ext learnpulse",
    "%%check ex-loops-01\n8\n",
    "%tutor what does range(2, 10) give?",
    "%tutor why?",
    "from learnpulse.collectors.tracking import default_sink\n"
    "from learnpulse.widgets import current_session\n"
    "store = current_session().event_store()\n"
    "print(type(store).__name__, store.query(kinds='tutor_message').height)\n"
    "print('delivered:', default_sink().flush(30))",
)


@pytest.fixture
def owner_olga(monkeypatch, tmp_path):
    """The server's owner (and so their kernels' learner) is ``owner-olga``; set before the
    server starts."""
    monkeypatch.setenv("LEARNPULSE_LEARNER_ID", "owner-olga")
    monkeypatch.setenv("LEARNPULSE_SPOOL_DIR", str(tmp_path / "spool"))
    monkeypatch.delenv("JUPYTERHUB_API_TOKEN", raising=False)


async def test_a_kernel_of_a_postgres_backed_server_writes_through_it(
    owner_olga, jp_fetch, kernel_channels, pg_url
):
    """Attempts (the event sink), the tutor's exchanges and the learner's history (the
    session's store) go to the server's PostgreSQL store, as the server's owner."""
    await asyncio.sleep(0)
    started = await jp_fetch("api", "kernels", method="POST", body=json.dumps({"name": "python3"}))
    kernel_id = json.loads(started.body)["id"]
    try:
        async with kernel_channels(kernel_id) as channels:
            shown = [await execute(channels, cell) for cell in OWNER_CELLS]
    finally:
        await jp_fetch("api", "kernels", kernel_id, method="DELETE")
    assert "ex-loops-01: ✔" in shown[1]
    assert "ServerStore 4" in shown[-1] and "delivered: True" in shown[-1], shown
    with EventStore(pg_url) as store:
        events = store.query()
        assert {"attempt", "cell_executed", "tutor_message"} <= set(events["kind"])
        assert set(events["learner_id"]) == {"owner-olga"}
        assert store.staff()["user_id"].to_list() == ["owner-olga"]  # the owner instructs


async def test_a_server_store_reads_every_page_in_time_order(
    jp_fetch, jp_serverapp, monkeypatch, make_event
):
    """What a kernel's session reads through the server: every page, whole ids, by time."""
    monkeypatch.setattr(server_store, "PAGE_EVENTS", 2)
    url = f"http://127.0.0.1:{jp_serverapp.port}{jp_serverapp.base_url}"
    store = ServerStore(url, jp_serverapp.identity_provider.token)
    late_first = [make_event(learner_id="Doe, Jane", offset_s=-i) for i in range(5)]
    await asyncio.to_thread(store.append, late_first)  # blocking: off the server's loop
    await asyncio.to_thread(store.append, [make_event(learner_id="Doe")])
    read = await asyncio.to_thread(store.query, learners="Doe, Jane", kinds="attempt")
    assert read["id"].to_list() == [event["id"] for event in reversed(late_first)]
    assert read.schema == EVENT_FRAME_SCHEMA


#: A training loop in the owner's notebook, run to its end (the run's last write included).
TRAINING_CELL = (
    "import learnpulse\n"
    "val = [0.9, 0.7, 0.75, 0.8, 0.9, 1.0]\n"
    "with learnpulse.track_training('kernel-mlp', params={'width': 64}) as run:\n"
    "    for epoch, val_loss in enumerate(val):\n"
    "        run.log(epoch=epoch, loss=1 / (epoch + 1), val_loss=val_loss)\n"
    "print('run', run.run_id)"
)


async def test_a_kernel_of_a_postgres_backed_server_logs_training_through_it(
    owner_olga, jp_fetch, kernel_channels, pg_url
):
    """A run logged in the notebook is one the server shows, with its metrics and verdict:
    it went to a SQLite file in the kernel's Jupyter data dir, and the dashboard was empty."""
    await asyncio.sleep(0)
    started = await jp_fetch("api", "kernels", method="POST", body=json.dumps({"name": "python3"}))
    kernel_id = json.loads(started.body)["id"]
    try:
        async with kernel_channels(kernel_id) as channels:
            shown = await execute(channels, TRAINING_CELL)
    finally:
        await jp_fetch("api", "kernels", kernel_id, method="DELETE")
    assert shown.startswith("run "), shown
    run_id = shown.split()[1]
    runs = json.loads((await jp_fetch("learnpulse", "api", "training", "runs")).body)["runs"]
    assert [(r["run_id"], r["learner_id"]) for r in runs] == [(run_id, "owner-olga")]
    detail = json.loads((await jp_fetch("learnpulse", "api", "training", "runs", run_id)).body)
    assert detail["status"] == "finished" and detail["params"] == {"width": 64}
    assert [m["val_loss"] for m in detail["metrics"]] == [0.9, 0.7, 0.75, 0.8, 0.9, 1.0]
    assert detail["overfitting"]["overfitting"] is True
