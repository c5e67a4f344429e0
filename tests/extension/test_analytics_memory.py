"""The server's analytics memory stays bounded: it keeps the most recently viewed courses.

Each course viewed kept its events and predictions in the server's memory for good: an
instructor clicking through the course selector (or a script asking for every course of a
big store) grew the server without bound.
"""

from __future__ import annotations

import asyncio
import json

import pytest

from learnpulse.datasets.simulator import SimulationConfig, simulate_course
from learnpulse.store import EventStore
from learnpulse_server.handlers.analytics import SERVICE_SETTING
from tests.conftest import make_event
from tests.extension.conftest import as_user, eventually
from tests.extension.test_analytics import get

COURSES = ("course-0", "course-1", "course-2", "course-3", "course-4")
#: The server's course ($LEARNPULSE_COURSE_ID): never dropped.
SERVER_COURSE = "course-1"
MAX_COURSES = 2
#: What differs between two computations of the same answer.
TIMING = ("computed_at", "compute_seconds")


@pytest.fixture
def jp_server_config(jp_server_config):
    app = {
        **jp_server_config["LearnPulseApp"],
        "analytics_max_courses": MAX_COURSES,
        # a stream's update as soon as its new event is read
        "analytics_refresh_interval": 0.2,
        "analytics_prediction_interval": 0.0,
    }
    return {**jp_server_config, "LearnPulseApp": app}


@pytest.fixture
def server_course(jp_environ, monkeypatch):
    monkeypatch.setenv("LEARNPULSE_COURSE_ID", SERVER_COURSE)


@pytest.fixture
def courses(lp_db_url):
    """Five small simulated courses, each its own learners and events."""
    with EventStore(lp_db_url) as store:
        for seed, course in enumerate(COURSES):
            config = SimulationConfig(n_learners=8, weeks=2, seed=seed, course_id=course)
            store.append_course(simulate_course(config))


async def answers(jp_fetch, course: str | None = None) -> dict[str, dict]:
    """The course's dashboard, trends and predictions (without their timings)."""
    named = {} if course is None else {"course": course}
    bodies = {
        "dashboard": await get(jp_fetch, "dashboard", range="course", **named),
        "trends": await get(jp_fetch, "trends", **named),
        "predictive": await get(jp_fetch, "predictive", **named),
    }
    return {
        route: {k: v for k, v in body.items() if k not in TIMING} for route, body in bodies.items()
    }


def in_memory(jp_serverapp) -> list[str]:
    """The courses the server's analytics hold, least recently used first."""
    return list(jp_serverapp.web_app.settings[SERVICE_SETTING]._courses)


async def test_the_least_recently_viewed_course_is_dropped_and_rebuilt_alike(
    server_course, jp_fetch, jp_serverapp, courses
):
    server = await answers(jp_fetch)  # no course named: the server's
    assert server["dashboard"]["course"] == SERVER_COURSE
    server_state = jp_serverapp.web_app.settings[SERVICE_SETTING]._courses[SERVER_COURSE]
    first = await answers(jp_fetch, "course-0")
    for course in COURSES[2:]:
        await answers(jp_fetch, course)
    # at most MAX_COURSES, the server's course among them; course-0 dropped
    assert in_memory(jp_serverapp) == [SERVER_COURSE, "course-4"]
    assert await answers(jp_fetch, "course-0") == first  # read and computed again, alike
    assert in_memory(jp_serverapp) == [SERVER_COURSE, "course-0"]
    # the server's course was kept all along, not read again
    assert jp_serverapp.web_app.settings[SERVICE_SETTING]._courses[SERVER_COURSE] is server_state
    assert (await answers(jp_fetch))["predictive"] == server["predictive"]


async def test_a_streamed_course_is_kept_and_its_stream_goes_on(
    server_course, jp_fetch, jp_ws_fetch, jp_serverapp, courses, lp_db_url
):
    ws = await jp_ws_fetch(
        "learnpulse",
        "api",
        "analytics",
        "stream",
        params={"course": "course-0", "type": "score"},
        headers=as_user("teacher"),
    )
    snapshot = json.loads(await ws.read_message())
    assert (snapshot["type"], snapshot["course"]) == ("snapshot", "course-0")
    for course in (SERVER_COURSE, *COURSES[2:]):
        await answers(jp_fetch, course)
    held = in_memory(jp_serverapp)
    assert "course-0" in held and SERVER_COURSE in held
    assert len(held) == MAX_COURSES + 1  # the course streamed, beyond the most recent ones
    with EventStore(lp_db_url) as store:
        later = store.query(course="course-0")["ts"].max().isoformat()
        learner = snapshot["learners"]["ids"][0]
        store.append([make_event(ts=later, learner_id=learner, course_id="course-0")])
    update = json.loads(await asyncio.wait_for(ws.read_message(), timeout=30))
    assert (update["type"], update["course"]) == ("update", "course-0")
    assert update["seq"] > snapshot["seq"]
    ws.close()
    # closed, it is an ordinary course again: the next course viewed drops it
    courses = jp_serverapp.web_app.settings[SERVICE_SETTING]._courses
    assert await eventually(lambda: not courses["course-0"].subscribers)
    await answers(jp_fetch, "course-2")
    assert "course-0" not in in_memory(jp_serverapp)
