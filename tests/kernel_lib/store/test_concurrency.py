"""Several real processes appending to one store at once lose and duplicate nothing."""

from __future__ import annotations

import subprocess
import sys
import textwrap

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
