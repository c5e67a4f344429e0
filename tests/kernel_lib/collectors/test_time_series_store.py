"""Revision 0002 (time-series tables): upgrading a 0001 store keeps its events."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from learnpulse.store import EventStore, migrate
from learnpulse.store.engine import make_engine, resolve_url


def test_a_0001_store_is_upgraded_in_place(tmp_path, make_event):
    url = f"sqlite:///{tmp_path / 'old.db'}"
    engine = make_engine(resolve_url(url))
    migrate.upgrade(engine, "0001")
    with EventStore(url, migrate_schema=False) as old:
        old.append([make_event(), make_event(offset_s=1)])
        status = old.status()  # a store not migrated yet: no staff table, no staff
        assert status["schema_revision"] == "0001"
        assert status["counts"]["learners"] == 1 and status["counts"]["staff"] == 0
    engine.dispose()
    with EventStore(url) as store:
        assert store.status()["schema_revision"] == migrate.head_revision()
        assert store.counts()["events"] == 2
        now = datetime.now(timezone.utc)
        assert store.append_system_samples([{"host": "h", "ts": now, "cpu_percent": 5.0}]) == 1
        assert store.append_system_samples([{"host": "h", "ts": now, "cpu_percent": 5.0}]) == 0
        assert store.system_samples()["cpu_percent"].to_list() == [5.0]


def test_time_series_rows_are_checked(tmp_path):
    with EventStore(f"sqlite:///{tmp_path / 's.db'}") as store:
        now = datetime.now(timezone.utc)
        with pytest.raises(ValueError, match="'cpu_percent' must be a finite number"):
            store.append_system_samples([{"host": "h", "ts": now, "cpu_percent": float("nan")}])
        with pytest.raises(ValueError, match="'ts' must be a timezone-aware datetime"):
            store.append_system_samples([{"host": "h", "ts": datetime(2024, 1, 1)}])
        with pytest.raises(ValueError, match="'status' must be one of"):
            store.save_training_run({"run_id": "r", "status": "exploded"})


def test_a_run_of_another_learner_is_neither_updated_nor_added_to(store):
    """On both backends: a run is written only as its own learner's, in one transaction, and
    the points newly stored are counted (PostgreSQL counted a batch as -1)."""
    from learnpulse.store.series import UnknownTrainingRun

    started = datetime(2024, 9, 2, 9, tzinfo=timezone.utc)
    run = {"run_id": "r", "name": "mlp", "learner_id": "bob", "course_id": "c"}
    store.save_training_run({**run, "started": started, "status": "running"})
    with pytest.raises(UnknownTrainingRun, match="no training run 'r' of learner 'ada'"):
        store.save_training_run(
            {**run, "learner_id": "ada", "started": started, "status": "failed"}
        )
    rows = [{"seq": i, "ts": started, "loss": 1.0} for i in range(3)]
    with pytest.raises(UnknownTrainingRun):
        store.append_training_metrics("r", rows, learner_id="ada")
    with pytest.raises(UnknownTrainingRun):
        store.append_training_metrics("no-such-run", rows, learner_id="bob")
    assert store.training_runs().select("learner_id", "status").rows() == [("bob", "running")]
    assert store.training_metrics("r").is_empty()
    assert store.append_training_metrics("r", rows, learner_id="bob") == 3
    assert store.append_training_metrics("r", [*rows[1:], {**rows[0], "seq": 3}]) == 1
    store.save_training_run({**run, "started": started, "status": "finished"})
    assert store.training_runs()["status"].to_list() == ["finished"]


def test_system_samples_newly_stored_are_counted(store):
    """On both backends (PostgreSQL counted a batch as -1); a stored (host, ts) is skipped."""
    now = datetime.now(timezone.utc)
    samples = [{"host": h, "ts": now, "cpu_percent": 5.0} for h in ("a", "b", "c")]
    assert store.append_system_samples(samples) == 3
    assert store.append_system_samples([*samples, {**samples[0], "host": "d"}]) == 1
    assert sorted(store.system_samples()["host"].to_list()) == ["a", "b", "c", "d"]
