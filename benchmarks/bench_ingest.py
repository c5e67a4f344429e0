"""Ingestion benchmark: ``POST events`` on a real server vs direct ``EventStore.append``.

Run with ``learnpulse benchmark ingest`` (from a source checkout: the server process is started
by ``tests/extension/live_server.py``). In the same run, on the same machine:

- batches of ``--batch-size`` events posted one after another over one keep-alive connection
  to a ``jupyter server`` process on loopback, each into its own SQLite file, against the same
  batches appended directly with ``EventStore.append`` (alternating, so that both sides meet
  the same machine load);
- ``--clients`` connections posting batches at the same time: aggregate events/s;
- single-event POSTs one after another: p50 / p99 latency.

Targets (issue 4): >= 50,000 events/s through POST, >= 40 % of direct, single-event p99 < 10 ms.
"""

from __future__ import annotations

import argparse
import http.client
import json
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import polars as pl

from learnpulse.benchmarking import at_least_one, print_report
from learnpulse.store import EventStore

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from benchmarks.bench_store import make_events  # noqa: E402
from tests.extension.live_server import LiveServer  # noqa: E402

TARGET_EVENTS_PER_S = 50_000
TARGET_RATIO = 0.40
TARGET_SINGLE_P99_MS = 10.0


def _percentile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


class Client:
    """One keep-alive HTTP connection posting pre-encoded bodies to ``POST events``."""

    def __init__(self, server: LiveServer):
        self.connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
        self.path = "/learnpulse/api/events"
        self.headers = server.headers("teacher")

    def post(self, body: bytes) -> dict:
        self.connection.request("POST", self.path, body=body, headers=self.headers)
        response = self.connection.getresponse()
        reply = response.read()
        if response.status != 201:
            raise RuntimeError(f"POST events answered {response.status}: {reply[:300]!r}")
        return json.loads(reply)


def bench_batches(
    server: LiveServer, store: EventStore, batches: int, size: int, random_ids: bool
) -> dict:
    """events/s through POST vs direct append, alternating batch by batch."""
    client = Client(server)
    warm_up = make_events(size, offset=-size, random_ids=random_ids)
    client.post(json.dumps({"events": warm_up}).encode())
    posted = direct = 0.0
    for k in range(batches):
        body = json.dumps(
            {"events": make_events(size, offset=2 * k * size, random_ids=random_ids)}
        ).encode()
        mine = make_events(size, offset=(2 * k + 1) * size, random_ids=random_ids)
        started = time.perf_counter()
        stored = client.post(body)["stored"]
        middle = time.perf_counter()
        store.append(mine)
        posted, direct = posted + middle - started, direct + time.perf_counter() - middle
        assert stored == size, stored
    events = batches * size
    return {
        "post_events_per_s": events / posted,
        "direct_append_events_per_s": events / direct,
        "ratio": direct / posted,
        "target_events_per_s": TARGET_EVENTS_PER_S,
        "target_ratio": TARGET_RATIO,
    }


def bench_concurrent(
    server: LiveServer, clients: int, batches: int, size: int, random_ids: bool
) -> dict:
    """Aggregate events/s of ``clients`` connections posting batches at the same time."""
    bodies = [
        [
            json.dumps(
                {
                    "events": make_events(
                        size, offset=10**7 * (c + 1) + k * size, random_ids=random_ids
                    )
                }
            ).encode()
            for k in range(batches)
        ]
        for c in range(clients)
    ]

    def post_all(own: list[bytes]) -> None:
        client = Client(server)
        for body in own:
            client.post(body)

    started = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(post_all, bodies))
    elapsed = time.perf_counter() - started
    return {"clients": clients, "post_events_per_s": clients * batches * size / elapsed}


def bench_single(server: LiveServer, posts: int) -> dict:
    """Latency of single-event POSTs (one connection, one after another)."""
    client = Client(server)
    bodies = [
        json.dumps({"events": [event]}).encode() for event in make_events(posts, offset=10**8)
    ]
    latencies = []
    for body in bodies:
        started = time.perf_counter()
        client.post(body)
        latencies.append((time.perf_counter() - started) * 1000)
    latencies = latencies[posts // 10 :]  # the first tenth warms up
    return {
        "p50_ms": _percentile(latencies, 50),
        "p99_ms": _percentile(latencies, 99),
        "target_p99_ms": TARGET_SINGLE_P99_MS,
    }


def run(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(prog="learnpulse benchmark ingest", description=__doc__)
    parser.add_argument("--batches", type=int, default=100)
    parser.add_argument("--batch-size", type=int, default=1000)
    parser.add_argument("--single-posts", type=int, default=1000)
    parser.add_argument("--clients", type=int, default=4, help="connections posting at once")
    parser.add_argument(
        "--random-ids",
        action="store_true",
        help="post version-4 (random) event ids instead of learnpulse's time-ordered ones",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object at the end")
    args = parser.parse_args(argv)
    at_least_one(args, "batches", "batch_size", "single_posts", "clients")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        with (
            LiveServer(folder / "server", f"sqlite:///{folder / 'server.db'}") as server,
            EventStore(folder / "direct.db") as store,
        ):
            batches = bench_batches(server, store, args.batches, args.batch_size, args.random_ids)
            concurrent = bench_concurrent(
                server, args.clients, args.batches, args.batch_size, args.random_ids
            )
            single = bench_single(server, args.single_posts)
    result = {"batch": batches, "concurrent": concurrent, "single_event": single}
    table = pl.DataFrame(
        [
            {"benchmark": f"{group}.{key}", "value": round(float(value), 3)}
            for group, values in result.items()
            for key, value in values.items()
        ]
    )
    print_report(table, result, as_json=args.json)
    return result


if __name__ == "__main__":
    run()
