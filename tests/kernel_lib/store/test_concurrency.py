"""Several real processes appending to one store at once lose and duplicate nothing."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import textwrap
import threading

import pytest

from learnpulse.store import EventStore

WRITER = textwrap.dedent(
    """
    import sys, uuid
    from datetime import datetime, timedelta, timezone
    from learnpulse.store import EventStore

    url, writer, batches, size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    start = datetime(2024, 9, 2, tzinfo=timezone.utc)
    with EventStore(url) as store:
        for b in range(batches):
            events = []
            for i in range(size):
                # Half of every batch is shared by all writers: ids derived from (b, i) only.
                shared = i % 2 == 0
                key = f"{b}-{i}" if shared else f"{writer}-{b}-{i}"
                events.append({
                    "id": str(uuid.uuid5(uuid.NAMESPACE_URL, key)),
                    "ts": (start + timedelta(seconds=b * size + i)).isoformat(),
                    "learner_id": f"learner-{writer}", "course_id": "race",
                    "kind": "hint", "item_id": f"ex-{i % 7}",
                })
            store.append(events)
    """
)


@pytest.mark.parametrize("writers", [4])
def test_concurrent_writer_processes(store_url, writers):
    batches, size = 15, 200
    EventStore(store_url).close()  # create the schema before the race
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, store_url, str(w), str(batches), str(size)],
            stderr=subprocess.PIPE,
            text=True,
        )
        for w in range(writers)
    ]
    for proc in procs:
        _, err = proc.communicate(timeout=240)
        assert proc.returncode == 0, err
    shared = batches * size // 2
    own = writers * batches * size // 2
    with EventStore(store_url) as store:
        frame = store.query(course="race")
        assert frame.height == shared + own
        assert frame["id"].n_unique() == frame.height
        assert store.learners("race").height == writers
        assert store.items("race").height == 7


def test_threads_opening_a_new_sqlite_file_at_once(tmp_path):
    # Switching a new file to WAL takes an exclusive lock, and two connections racing for it
    # deadlock, so SQLite fails one at once instead of waiting (seen as "database is locked"
    # from a widget's background sink and a notebook's session opening the same new store).
    rounds, threads = 40, 4
    failures: list[BaseException] = []

    def open_and_read(url: str, start: threading.Barrier) -> None:
        start.wait()
        try:
            with EventStore(url) as store:
                store.query(kinds="hint")
        except BaseException as error:  # collected, reported below
            failures.append(error)

    for r in range(rounds):
        url = f"sqlite:///{tmp_path / f'new-{r}.db'}"
        start = threading.Barrier(threads)
        workers = [
            threading.Thread(target=open_and_read, args=(url, start)) for _ in range(threads)
        ]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
    assert not failures, failures[:3]
    modes = {
        sqlite3.connect(path).execute("PRAGMA journal_mode").fetchone()[0]
        for path in tmp_path.glob("new-*.db")
    }
    assert modes == {"wal"}
