"""Server fixtures: a real Jupyter server with learnpulse on a fresh store (pytest-jupyter).

Users: the server's own token is the instructor ``teacher`` (named in ``instructors``);
``STUDENT_TOKENS`` are two students. ``as_user(name)`` gives ``jp_fetch`` headers for one of
them, ``ANONYMOUS`` none at all.
"""

from __future__ import annotations

import asyncio
import contextlib

import pytest
from jupyter_server.utils import url_path_join
from tornado.httpclient import HTTPRequest
from tornado.websocket import websocket_connect

from tests.extension.kernel_channels import KERNEL_TIMEOUT_S

STUDENT_TOKENS = {"token-ada": "ada", "token-bob": "bob"}
INSTRUCTOR_TOKENS = {"token-teacher": "teacher"}
ANONYMOUS = {"Authorization": ""}


def as_user(name: str) -> dict[str, str]:
    """Authorization header of one of the test users (``ada``, ``bob`` or ``teacher``)."""
    tokens = {user: token for token, user in {**STUDENT_TOKENS, **INSTRUCTOR_TOKENS}.items()}
    return {"Authorization": f"token {tokens[name]}"}


@pytest.fixture
def lp_db_url(tmp_path):
    return f"sqlite:///{tmp_path / 'server.db'}"


@pytest.fixture
def jp_server_config(lp_db_url):
    return {
        "ServerApp": {
            "jpserver_extensions": {"learnpulse_server": True},
            "identity_provider_class": "learnpulse_server.identity.ClassTokenIdentityProvider",
        },
        "ClassTokenIdentityProvider": {"user_tokens": {**STUDENT_TOKENS, **INSTRUCTOR_TOKENS}},
        "LearnPulseApp": {"db_url": lp_db_url, "instructors": ["teacher"]},
    }


#: Learner ids of the seeded class: the two students (their user names) and one more learner
#: who never logs in, so that a leak of a third learner's rows is visible too.
SEEDED_LEARNERS = ("ada", "bob", "carol")
SEEDED_COURSE = "course-a"


@pytest.fixture
def seeded(lp_db_url):
    """The server's store with 4 events for each of ``SEEDED_LEARNERS`` (returned by learner)."""
    from learnpulse.store import EventStore
    from tests.conftest import make_event

    events = {
        learner: [
            make_event(offset_s=60 * i + k, learner_id=learner, course_id=SEEDED_COURSE)
            for i in range(4)
        ]
        for k, learner in enumerate(SEEDED_LEARNERS)
    }
    with EventStore(lp_db_url) as store:
        store.append([e for batch in events.values() for e in batch])
    return events


@pytest.fixture
def kernel_channels(jp_http_port, jp_base_url, jp_auth_header):
    """``async with kernel_channels(kernel_id) as channels``: the kernel's ``channels``
    WebSocket, as the server's owner, closed at the end.

    The server answers the upgrade once the kernel has started, and ``jp_ws_fetch`` leaves
    tornado's 20 s request timeout: three kernels starting together on a loaded 2-core CI
    machine took longer. The kernel gets ``KERNEL_TIMEOUT_S``, as for running a cell.
    """

    @contextlib.asynccontextmanager
    async def channels_of(kernel_id: str):
        path = url_path_join(jp_base_url, "api", "kernels", kernel_id, "channels")
        opening = HTTPRequest(
            f"ws://localhost:{jp_http_port}{path}", headers=dict(jp_auth_header),
            connect_timeout=KERNEL_TIMEOUT_S, request_timeout=KERNEL_TIMEOUT_S,
        )  # fmt: skip
        channels = await websocket_connect(opening)
        try:
            yield channels
        finally:
            channels.close()

    return channels_of


def learnpulse_app(jp_serverapp):
    """The running LearnPulseApp of a pytest-jupyter server (to read or change its traits)."""
    (app,) = jp_serverapp.extension_manager.extension_apps["learnpulse_server"]
    return app


def running_tasks(qualname_prefix: str) -> list[asyncio.Task]:
    """Tasks not done on the server's event loop whose coroutine's qualified name starts with
    ``qualname_prefix`` (``"EventStreamHandler."``: what the event streams left running)."""
    return [
        task
        for task in asyncio.all_tasks()
        if not task.done()
        and getattr(task.get_coro(), "__qualname__", "").startswith(qualname_prefix)
    ]


async def eventually(condition, timeout: float = 10) -> bool:
    """Whether ``condition()`` holds within ``timeout`` seconds (the loop keeps running)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        if asyncio.get_running_loop().time() > deadline:
            return False
        await asyncio.sleep(0.02)
    return True
