"""Load: 50 concurrent clients post batches for 30 s to a real server process on loopback;
the server keeps answering while its first analytics stream loads the models.

Every acknowledged event must be in the store exactly once. The measured events/s and
latency percentiles are printed (``pytest -s``) and attached to the test report
(``record_property``). ``LEARNPULSE_LOAD_SECONDS`` shortens or lengthens the run.
"""

from __future__ import annotations

import asyncio
import json
import os
import time

import pytest
from tornado.httpclient import AsyncHTTPClient, HTTPRequest
from tornado.websocket import websocket_connect

from learnpulse.datasets import SimulationConfig, simulate_course
from learnpulse.store import EventStore
from tests.extension.ingest_clients import IngestLog, post_batches
from tests.extension.live_server import LiveServer

CLIENTS = 50
BATCH_EVENTS = 100
SECONDS = float(os.environ.get("LEARNPULSE_LOAD_SECONDS", "30"))
#: A floor far below what the server does, so that only a broken ingest path fails it.
MIN_EVENTS_PER_S = 1_000


@pytest.mark.slow
async def test_concurrent_clients_every_acknowledged_event_stored_once(tmp_path, record_property):
    db_url = f"sqlite:///{tmp_path / 'load.db'}"
    log, stop = IngestLog(), asyncio.Event()
    http = AsyncHTTPClient(force_instance=True, max_clients=CLIENTS)
    with LiveServer(tmp_path / "server", db_url) as server:
        clients = [
            asyncio.create_task(post_batches(server, log, c, BATCH_EVENTS, stop, http))
            for c in range(CLIENTS)
        ]
        started = time.perf_counter()
        await asyncio.sleep(SECONDS)
        stop.set()
        await asyncio.gather(*clients)
        elapsed = time.perf_counter() - started
    http.close()
    assert not log.errors, log.errors[:3]
    with EventStore(db_url) as store:
        ids = store.query(course="load")["id"]
    assert ids.n_unique() == ids.len() == len(log.acknowledged) == log.stored
    assert set(ids) == log.acknowledged
    assert log.duplicates > 0  # the reposted batches were recognised
    summary = log.summary(elapsed)
    for key, value in summary.items():
        record_property(key, value)
    print(f"\nload, {CLIENTS} clients x {BATCH_EVENTS}-event batches, {elapsed:.0f} s: {summary}")
    assert summary["events_per_s"] > MIN_EVENTS_PER_S


#: Longest an unrelated request may wait while the server's first analytics stream starts
#: (importing the models on the event loop held every request up for 2.8 s).
MAX_STATUS_WAIT_S = 1.0


async def test_the_first_analytics_stream_does_not_hold_up_other_requests(tmp_path):
    """A server's first analytics stream loads the models (scikit-learn and more: seconds) and
    computes the predictions; meanwhile the server keeps answering other requests."""
    db_url = f"sqlite:///{tmp_path / 'class.db'}"
    with EventStore(db_url) as store:
        store.append_course(simulate_course(SimulationConfig(n_learners=60, weeks=3, seed=1)))
    with LiveServer(tmp_path / "server", db_url) as server:
        http, waits, done = AsyncHTTPClient(force_instance=True), [], asyncio.Event()

        async def poll_status() -> None:
            while not done.is_set():
                started = time.perf_counter()
                await http.fetch(f"{server.url}/status", headers=server.headers())
                waits.append(time.perf_counter() - started)
                await asyncio.sleep(0.02)

        polling = asyncio.create_task(poll_status())
        stream = await websocket_connect(
            HTTPRequest(
                f"{server.url.replace('http', 'ws', 1)}/analytics/stream?limit=5",
                headers=server.headers(),
            )
        )
        snapshot = json.loads(await asyncio.wait_for(stream.read_message(), 120))
        done.set()
        await polling
        stream.close()
        http.close()
    assert snapshot["type"] == "snapshot" and snapshot["learners"]["ids"]
    assert len(waits) > 5, "the status requests did not run while the stream started"
    assert max(waits) < MAX_STATUS_WAIT_S, sorted(waits)[-3:]
