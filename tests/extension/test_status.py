"""GET /learnpulse/api/status through a real Jupyter server."""

from __future__ import annotations

import json

import pytest
from tornado.httpclient import HTTPClientError

from learnpulse import __version__
from learnpulse.store import EventStore
from learnpulse.store.migrate import head_revision


async def test_status_reports_version_backend_and_counts(jp_fetch, lp_db_url, make_event):
    with EventStore(lp_db_url) as store:
        store.append([make_event(offset_s=i, learner_id=f"l{i % 2}") for i in range(3)])
    response = await jp_fetch("learnpulse", "api", "status")
    body = json.loads(response.body)
    assert response.code == 200
    assert body["version"] == __version__
    assert body["store"] == {"backend": "sqlite", "schema_revision": head_revision()}
    assert body["counts"]["events"] == 3
    assert body["counts"]["learners"] == 2
    assert body["counts"]["courses"] == 1


async def test_status_counts_learners_without_the_staff(jp_fetch, lp_db_url, make_event):
    """The instructor ("teacher", recorded as staff when the server starts) was counted as a
    learner: 3 here, where the class views and the course list say 2."""
    with EventStore(lp_db_url) as store:
        store.append([make_event(offset_s=i, learner_id=u) for i, u in enumerate(("ada", "bob"))])
        store.append([make_event(offset_s=5, learner_id="teacher")])
    response = await jp_fetch("learnpulse", "api", "status")
    counts = json.loads(response.body)["counts"]
    assert (counts["events"], counts["learners"], counts["staff"]) == (3, 2, 1)
    with EventStore(lp_db_url) as store:
        assert store.known_courses()["learners"].to_list() == [2]


async def test_status_requires_authentication(jp_fetch):
    with pytest.raises(HTTPClientError) as info:
        await jp_fetch("learnpulse", "api", "status", headers={"Authorization": ""})
    assert info.value.code == 403


@pytest.fixture
def jp_base_url():
    return "/class/a/"


async def test_status_honours_base_url(jp_fetch, jp_base_url):
    response = await jp_fetch("learnpulse", "api", "status")
    assert response.effective_url.split("?")[0].endswith("/class/a/learnpulse/api/status")
    assert json.loads(response.body)["counts"]["events"] == 0


async def test_class_tokens_identify_students_and_instructors(jp_fetch):
    from tests.extension.conftest import as_user

    for user in ("ada", "teacher"):
        response = await jp_fetch("api", "me", headers=as_user(user))
        assert json.loads(response.body)["identity"]["username"] == user
