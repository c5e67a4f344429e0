"""The public data sets go through the store intact, on both backends."""

from __future__ import annotations

import polars as pl
import pytest

from learnpulse.datasets import load_assistments_dkt, load_oulad


@pytest.mark.slow
def test_assistments_into_sqlite_and_back(tmp_path, shared_data):
    from learnpulse.store import EventStore

    data = load_assistments_dkt(shared_data / "assistments2009" / "builder_train.csv")
    with EventStore(tmp_path / "assist.db") as store:
        result = store.append_course(data)
        assert (result.received, result.inserted) == (407_967, 407_967)
        frame = store.query(course="assistments2009")
        counts = store.counts()
    assert counts["learners"] == 3_361
    assert frame.height == 407_967
    assert frame["correct"].mean() == pytest.approx(0.677, abs=0.001)
    assert frame["id"].sort().equals(data.events["id"].sort())
    assert frame["ts"].is_sorted()


@pytest.mark.slow
def test_oulad_into_postgresql_round_trips(pg_url, shared_data):
    from learnpulse.store import EventStore

    data = load_oulad(shared_data / "oulad", presentations=["2013J"])
    with EventStore(pg_url) as store:
        assert store.append_course(data).inserted == data.events.height
        course = data.events["course_id"][0]
        back = store.load_course(course)
    want = data.events.filter(pl.col("course_id") == course).sort("ts", "id")
    got = back.events.sort("ts", "id")
    assert got.drop("payload").equals(want.drop("payload"))
    assert back.learners.height == data.learners.filter(pl.col("course_id") == course).height
    scores = got.filter(pl.col("kind") == "assessment_submitted")["score"]
    assert scores.drop_nulls().is_between(0, 100).all()
