"""Crash: SIGKILL the server while clients post, restart it on the same store.

Every event the server acknowledged (201) before dying must be there after the restart, once;
re-sending the unacknowledged batches (what a client does) then completes the set.
"""

from __future__ import annotations

import asyncio
import json

import pytest
from tornado.httpclient import AsyncHTTPClient

from tests.extension.ingest_clients import IngestLog, post_batches
from tests.extension.live_server import LiveServer

CLIENTS = 8
BATCH_EVENTS = 200
#: Seconds of ingestion before the kill.
KILL_AFTER_S = 3.0


async def stored_ids(server: LiveServer, http: AsyncHTTPClient) -> list[str]:
    """Every event id of course ``load``, paged through GET events on the restarted server."""
    ids, after = [], 0
    while after is not None:
        response = await http.fetch(
            f"{server.url}/events?course=load&limit=10000&after={after}",
            headers=server.headers("teacher"),
        )
        page = json.loads(response.body)
        ids += [event["id"] for event in page["events"]]
        after = page["next"]
    return ids


@pytest.mark.slow
async def test_acknowledged_events_survive_sigkill(tmp_path):
    db_url = f"sqlite:///{tmp_path / 'crash.db'}"
    log, stop = IngestLog(), asyncio.Event()
    http = AsyncHTTPClient(force_instance=True, max_clients=CLIENTS)
    server = LiveServer(tmp_path / "server", db_url).start()
    try:
        clients = [
            asyncio.create_task(post_batches(server, log, c, BATCH_EVENTS, stop, http))
            for c in range(CLIENTS)
        ]
        await asyncio.sleep(KILL_AFTER_S)
        server.kill()
        stop.set()
        await asyncio.gather(*clients)
    finally:
        server.kill()
    assert log.acknowledged, "nothing was acknowledged before the kill"
    with LiveServer(tmp_path / "restarted", db_url) as restarted:
        after_crash = await stored_ids(restarted, http)
        assert len(after_crash) == len(set(after_crash))
        assert log.acknowledged <= set(after_crash)
        for batch in log.unacknowledged:  # the clients' retries
            response = await http.fetch(
                f"{restarted.url}/events",
                method="POST",
                body=json.dumps({"events": batch}),
                headers=restarted.headers("teacher"),
            )
            assert response.code == 201
        final = await stored_ids(restarted, http)
    http.close()
    sent = log.acknowledged | {e["id"] for batch in log.unacknowledged for e in batch}
    assert len(final) == len(set(final)) and set(final) == sent
