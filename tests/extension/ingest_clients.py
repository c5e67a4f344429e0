"""Concurrent clients posting event batches to a live server, recording what was acknowledged."""

from __future__ import annotations

import asyncio
import json
import statistics
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from tornado.httpclient import AsyncHTTPClient, HTTPClientError

from tests.extension.live_server import LiveServer

START = datetime(2024, 9, 2, tzinfo=timezone.utc)
#: Every this-many-th batch a client posts again (a retry after a lost answer): idempotency.
REPOST_EVERY = 10


def client_batch(client: int, number: int, size: int) -> list[dict]:
    """``size`` valid events of learner ``l<client>`` (fresh ids)."""
    return [
        {
            "id": str(uuid.uuid4()),
            "ts": (START + timedelta(seconds=number * size + i)).isoformat(),
            "learner_id": f"l{client}",
            "course_id": "load",
            "kind": "attempt",
            "item_id": f"ex-{i % 20}",
            "skills": ["loops"],
            "correct": i % 3 != 0,
            "duration_ms": 1000 + i,
            "attempt": 1,
        }
        for i in range(size)
    ]


@dataclass
class IngestLog:
    """What the clients sent and what the server acknowledged (201)."""

    acknowledged: set[str] = field(default_factory=set)
    unacknowledged: list[list[dict]] = field(default_factory=list)
    latencies_ms: list[float] = field(default_factory=list)
    stored: int = 0
    duplicates: int = 0
    errors: list[str] = field(default_factory=list)

    def summary(self, seconds: float) -> dict[str, float]:
        quantiles = statistics.quantiles(self.latencies_ms, n=100, method="inclusive")
        return {
            "requests": len(self.latencies_ms),
            "events_acknowledged": len(self.acknowledged),
            "events_per_s": self.stored / seconds,
            "p50_ms": quantiles[49],
            "p99_ms": quantiles[98],
        }


async def post_batches(
    server: LiveServer,
    log: IngestLog,
    client: int,
    size: int,
    stop: asyncio.Event,
    http: AsyncHTTPClient,
) -> None:
    """Post batches until ``stop``; batches without a 201 go to ``log.unacknowledged``."""
    number = 0
    while not stop.is_set():
        batch = client_batch(client, number, size)
        for _ in range(2 if number % REPOST_EVERY == 0 else 1):
            body = json.dumps({"events": batch})
            started = time.perf_counter()
            try:
                response = await http.fetch(
                    f"{server.url}/events",
                    method="POST",
                    body=body,
                    headers=server.headers("teacher"),
                    request_timeout=120,
                )
            except (HTTPClientError, OSError) as error:
                log.unacknowledged.append(batch)
                log.errors.append(repr(error))
                if stop.is_set() or server.process.poll() is not None:
                    return
                continue
            log.latencies_ms.append((time.perf_counter() - started) * 1000)
            counts = json.loads(response.body)
            log.stored += counts["stored"]
            log.duplicates += counts["duplicates"]
            log.acknowledged.update(event["id"] for event in batch)
        number += 1
