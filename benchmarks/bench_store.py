"""Store benchmarks: append throughput vs raw executemany, and query speed vs pandas.read_sql.

Run with ``learnpulse benchmark store`` or ``python benchmarks/bench_store.py``. Both sides of
each comparison run in the same process on the same SQLite file.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import tempfile
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

import polars as pl

from learnpulse.benchmarking import at_least_one, print_report
from learnpulse.events import EVENT_FIELDS, new_event_id
from learnpulse.store import EventStore

START = datetime(2024, 9, 2, tzinfo=timezone.utc)


def make_events(n: int, offset: int = 0, *, random_ids: bool = False) -> list[dict]:
    """n realistic attempt events (100 learners, 50 items, payloads on some).

    Ids are time-ordered as learnpulse's own clients make them (:func:`new_event_id`), or
    version-4 random ones with ``random_ids`` (as another client may send).
    """
    new_id = (lambda: str(uuid.uuid4())) if random_ids else new_event_id
    return [
        {
            "id": new_id(),
            "ts": (START + timedelta(seconds=offset + i)).isoformat(),
            "learner_id": f"learner-{(offset + i) % 100:03d}",
            "course_id": "bench",
            "session_id": f"s-{(offset + i) // 50}",
            "kind": "attempt",
            "item_id": f"ex-{i % 50}",
            "skills": ["loops", "lists"],
            "correct": i % 3 != 0,
            "score": 1.0,
            "duration_ms": 4200 + i,
            "attempt": 1 + i % 3,
            "hints_used": i % 2,
            "difficulty": 0.4,
            "payload": {"answer_length": i % 17} if i % 5 == 0 else None,
        }
        for i in range(n)
    ]


def _raw_rows(events: list[dict]) -> list[tuple]:
    rows = []
    for e in events:
        ts_us = int(datetime.fromisoformat(e["ts"]).timestamp() * 1_000_000)
        row = [e.get(f) for f in EVENT_FIELDS]
        row[1] = ts_us
        row[7] = json.dumps(e["skills"])
        row[15] = None if e["payload"] is None else json.dumps(e["payload"])
        rows.append(tuple(row))
    return rows


def bench_append(path: Path, batches: int, batch_size: int) -> dict:
    """events/s of EventStore.append vs sqlite3 executemany of prepared tuples."""
    store = EventStore(path)
    columns = ["ts_us" if f == "ts" else f for f in EVENT_FIELDS]
    raw_sql = f"INSERT INTO events ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"
    raw = sqlite3.connect(path, isolation_level=None)
    raw.execute("PRAGMA synchronous=NORMAL")

    def timed_ours(events: list[dict]) -> float:
        started = time.perf_counter()
        store.append(events)
        return time.perf_counter() - started

    def timed_raw(rows: list[tuple]) -> float:
        started = time.perf_counter()
        raw.execute("BEGIN IMMEDIATE")
        raw.executemany(raw_sql, rows)
        raw.execute("COMMIT")
        return time.perf_counter() - started

    ours = theirs = 0.0
    for k in range(batches):
        mine = make_events(batch_size, offset=2 * k * batch_size)
        other = _raw_rows(make_events(batch_size, offset=(2 * k + 1) * batch_size))
        # Alternate who goes first: the writer after a commit tends to pay for the WAL
        # checkpoint, which would otherwise always fall on the same side.
        if k % 2:
            theirs += timed_raw(other)
            ours += timed_ours(mine)
        else:
            ours += timed_ours(mine)
            theirs += timed_raw(other)
    raw.close()
    store.close()
    n = batches * batch_size
    return {
        "learnpulse_events_per_s": n / ours,
        "raw_executemany_events_per_s": n / theirs,
        "ratio": theirs / ours,
        "target_ratio": 0.5,
    }


def bench_query(path: Path, n_events: int, repeat: int) -> dict:
    """Seconds to read n_events into polars (EventStore.query) vs pandas.read_sql."""
    import pandas as pd
    import sqlalchemy

    store = EventStore(path)
    have = store.counts()["events"]
    chunk = 50_000
    for offset in range(have, n_events, chunk):
        store.append(make_events(min(chunk, n_events - offset), offset=10_000_000 + offset))
    engine = sqlalchemy.create_engine(f"sqlite:///{path}")
    columns = ", ".join("ts_us" if f == "ts" else f for f in EVENT_FIELDS)
    sql = f"SELECT {columns} FROM events WHERE course_id = 'bench' ORDER BY ts_us, seq"

    def read_pandas() -> pd.DataFrame:
        with engine.connect() as connection:
            return pd.read_sql(sqlalchemy.text(sql), connection)

    # Best of `repeat` runs each, alternating, so neither side is the only one with cold caches.
    ours = theirs = float("inf")
    for _ in range(repeat):
        frame, took = _timed(lambda: store.query(course="bench"))
        ours = min(ours, took)
        pdf, took = _timed(read_pandas)
        theirs = min(theirs, took)
    engine.dispose()
    store.close()
    assert frame.height == len(pdf), (frame.height, len(pdf))
    return {
        "rows": frame.height,
        "learnpulse_query_s": ours,
        "pandas_read_sql_s": theirs,
        "speedup": theirs / ours,
        "target_speedup": 5.0,
    }


def _timed(call):
    started = time.perf_counter()
    value = call()
    return value, time.perf_counter() - started


def run(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(prog="learnpulse benchmark store", description=__doc__)
    parser.add_argument("--batches", type=int, default=30)
    parser.add_argument("--batch-size", type=int, default=1000)
    parser.add_argument("--query-events", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3, help="query runs per side (best kept)")
    parser.add_argument("--json", action="store_true", help="print one JSON object at the end")
    args = parser.parse_args(argv)
    at_least_one(args, "batches", "batch_size", "query_events", "repeat")
    with tempfile.TemporaryDirectory() as tmp:
        append = bench_append(Path(tmp) / "append.db", args.batches, args.batch_size)
        query = bench_query(Path(tmp) / "query.db", args.query_events, args.repeat)
    result = {"append": append, "query": query}
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
