"""GET learnpulse/api/learners/<id>/export and DELETE learnpulse/api/learners/<id>."""

from __future__ import annotations

import json

import pytest
from tornado.httpclient import HTTPClientError

from learnpulse.store import EventStore
from learnpulse.xapi import statements_to_events
from tests.extension.conftest import SEEDED_COURSE, as_user


async def export(jp_fetch, learner, user="teacher", **params):
    response = await jp_fetch(
        "learnpulse", "api", "learners", learner, "export", params=params, headers=as_user(user)
    )
    return json.loads(response.body)


async def forget(jp_fetch, learner, user="teacher", **params):
    response = await jp_fetch(
        "learnpulse",
        "api",
        "learners",
        learner,
        method="DELETE",
        params=params,
        headers=as_user(user),
    )
    return json.loads(response.body)


async def test_export_returns_exactly_the_learners_events(jp_fetch, seeded):
    body = await export(jp_fetch, "bob")
    assert body["learner_id"] == "bob"
    assert [e["id"] for e in body["events"]] == [e["id"] for e in seeded["bob"]]
    assert body["events"][0]["ts"].startswith("2024-09-02T09:00:01")


async def test_export_as_xapi_round_trips(jp_fetch, seeded):
    body = await export(jp_fetch, "ada", format="xapi")
    events = statements_to_events(body["statements"])
    assert sorted(e["id"] for e in events) == sorted(e["id"] for e in seeded["ada"])
    assert {e["learner_id"] for e in events} == {"ada"}


async def test_erasure_removes_one_learner_only(jp_fetch, lp_db_url, seeded):
    body = await forget(jp_fetch, "ada")
    assert body == {
        "learner_id": "ada",
        "deleted": {"events": 4, "learners": 1, "training_runs": 0, "training_metrics": 0},
    }
    with EventStore(lp_db_url) as store:
        left = store.query()
    assert set(left["learner_id"]) == {"bob", "carol"} and left.height == 8
    with pytest.raises(HTTPClientError) as info:
        await export(jp_fetch, "ada")
    assert info.value.code == 404
    # Erasing again is not an error: nothing is left to delete.
    assert (await forget(jp_fetch, "ada"))["deleted"]["events"] == 0


async def test_erasure_in_one_course(jp_fetch, lp_db_url, seeded):
    assert (await forget(jp_fetch, "bob", course="other"))["deleted"]["events"] == 0
    assert (await forget(jp_fetch, "bob", course=SEEDED_COURSE))["deleted"]["events"] == 4


@pytest.mark.parametrize("user", ["ada", "bob"])
async def test_students_may_not_export_or_erase_even_themselves(jp_fetch, lp_db_url, seeded, user):
    for call in (export(jp_fetch, user, user=user), forget(jp_fetch, user, user=user)):
        with pytest.raises(HTTPClientError) as info:
            await call
        assert info.value.code == 403
        assert "instructor" in json.loads(info.value.response.body)["message"]
    with EventStore(lp_db_url) as store:
        assert store.counts()["events"] == 12


async def test_bad_export_format_is_named(jp_fetch, seeded):
    with pytest.raises(HTTPClientError) as info:
        await export(jp_fetch, "ada", format="csv")
    assert info.value.code == 400
    assert "'format'" in json.loads(info.value.response.body)["message"]
