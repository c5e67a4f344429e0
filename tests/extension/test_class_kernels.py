"""A class served without a hub (class tokens): each kernel records the user who started it.

Every kernel inherits the server's environment, so each student's notebook (exercises,
``%%check``, ``%tutor``, cell events) recorded the owner's learner id, and with a PostgreSQL
store posted through the server with the owner's token: the instructor's dashboard showed one
"learner" doing the whole class's work.
"""

from __future__ import annotations

import asyncio
import json

import pytest

from learnpulse.store import EventStore
from tests.extension.conftest import STUDENT_TOKENS, as_user
from tests.extension.kernel_channels import execute

OWNER = "owner-olga"
#: A notebook's work: an exercise checked, its events delivered; then who the kernel is.
NOTEBOOK_CELLS = (
    "%load_ext learnpulse",
    "%%check ex-loops-01\n8\n",
    "from learnpulse.collectors.tracking import default_sink\n"
    "print('delivered:', default_sink().flush(30))",
)
WHO_CELL = (
    "import os\n"
    "from learnpulse.collectors.context import learner_id\n"
    "print('learner:', learner_id(), 'token:', os.environ.get('LEARNPULSE_TOKEN'))"
)
#: Who a dashboard run in the kernel reads the server's API as.
READS_AS_CELL = """
import json, urllib.request
from learnpulse.viz.connection import find_server
server = find_server()
headers = {"Authorization": f"token {server.token}"}
asking = urllib.request.Request(server.api_url + "status", headers=headers)
print("reads as:", json.load(urllib.request.urlopen(asking))["user"]["learner_id"])
"""


@pytest.fixture(autouse=True)
def owner_env(monkeypatch, tmp_path):
    """The server's owner (what its kernels inherited) is ``OWNER``; set before it starts."""
    monkeypatch.setenv("LEARNPULSE_LEARNER_ID", OWNER)
    monkeypatch.setenv("LEARNPULSE_SPOOL_DIR", str(tmp_path / "spool"))
    monkeypatch.delenv("JUPYTERHUB_API_TOKEN", raising=False)
    monkeypatch.delenv("JUPYTERHUB_USER", raising=False)


@pytest.fixture
def jp_server_config(request, jp_server_config):
    if "postgres" in request.node.name:
        jp_server_config["LearnPulseApp"]["db_url"] = request.getfixturevalue("pg_url")
    return jp_server_config


async def start_kernel(jp_fetch, headers: dict, via: str = "kernels", body=None) -> str:
    """Start a kernel as the user of ``headers`` through ``POST api/<via>``; its id."""
    if body is None:
        body = {"name": "python3"}
        if via == "sessions":
            body = {"path": "lesson.ipynb", "type": "notebook", "kernel": {"name": "python3"}}
    started = await jp_fetch("api", via, method="POST", body=json.dumps(body), headers=headers)
    model = json.loads(started.body)
    return model["kernel"]["id"] if via == "sessions" else model["id"]


async def run_cells(kernel_channels, kernel_id: str, cells) -> list[str]:
    """What each of ``cells`` showed, run in the kernel (over the server's own token: who
    connects does not change whose kernel it is)."""
    async with kernel_channels(kernel_id) as channels:
        return [await execute(channels, cell) for cell in cells]


async def notebook_of(jp_fetch, kernel_channels, headers: dict, via: str, body=None) -> list[str]:
    """A kernel started as the user of ``headers``, its notebook's work done, shut down."""
    kernel_id = await start_kernel(jp_fetch, headers, via, body)
    try:
        return await run_cells(
            kernel_channels, kernel_id, (*NOTEBOOK_CELLS, READS_AS_CELL, WHO_CELL)
        )
    finally:
        await jp_fetch("api", "kernels", kernel_id, method="DELETE")


async def test_each_students_kernel_records_that_student(jp_fetch, kernel_channels, lp_db_url):
    """Ada's notebook (a session) records ada and Bob's (a bare kernel, whose request body
    asks for ada's environment) bob; the owner's kernel stays the owner's. A dashboard in a
    student's kernel reads the server as that student (it read as the owner, an instructor:
    the whole class)."""
    ada_token = next(token for token, name in STUDENT_TOKENS.items() if name == "ada")
    bob_pretends = {"name": "python3", "env": {"LEARNPULSE_LEARNER_ID": "ada"}}
    ada, bob, owner = await asyncio.gather(
        notebook_of(jp_fetch, kernel_channels, as_user("ada"), "sessions"),
        notebook_of(jp_fetch, kernel_channels, as_user("bob"), "kernels", bob_pretends),
        notebook_of(jp_fetch, kernel_channels, {}, "kernels"),
    )
    for shown in (ada, bob, owner):
        assert "ex-loops-01: ✔" in shown[1] and "delivered: True" in shown[2], shown
    assert "reads as: ada" in ada[-2] and "reads as: bob" in bob[-2]
    assert f"reads as: {OWNER}" in owner[-2]
    assert f"learner: ada token: {ada_token}" in ada[-1]
    assert "learner: bob token: token-bob" in bob[-1]
    assert f"learner: {OWNER}" in owner[-1] and "token-" not in owner[-1]
    with EventStore(lp_db_url) as store:
        attempts = store.query(kinds="attempt")
        cells = store.query(kinds="cell_executed")
    assert sorted(attempts["learner_id"]) == sorted(["ada", "bob", OWNER])
    assert set(cells["learner_id"]) == {"ada", "bob", OWNER}


async def test_a_students_kernel_stays_theirs_when_renamed_and_restarted(jp_fetch, kernel_channels):
    """Renaming the notebook (PATCH api/sessions) handed the kernel the server's environment,
    so that its next restart made it the owner's; another user asking for the running kernel
    by its id, or restarting it, leaves it the student's who started it."""
    started = await jp_fetch(
        "api", "sessions", method="POST", headers=as_user("ada"),
        body=json.dumps({"path": "a.ipynb", "type": "notebook", "kernel": {"name": "python3"}}),
    )  # fmt: skip
    session = json.loads(started.body)
    kernel_id = session["kernel"]["id"]
    try:
        await start_kernel(jp_fetch, as_user("bob"), body={"kernel_id": kernel_id})
        await jp_fetch(
            "api", "sessions", session["id"], method="PATCH", headers=as_user("ada"),
            body=json.dumps({"path": "renamed.ipynb", "name": "renamed.ipynb"}),
        )  # fmt: skip
        restart = ("api", "kernels", kernel_id, "restart")
        await jp_fetch(*restart, method="POST", body="", headers=as_user("bob"))
        (shown,) = await run_cells(kernel_channels, kernel_id, (WHO_CELL,))
    finally:
        await jp_fetch("api", "sessions", session["id"], method="DELETE")
    assert "learner: ada token: token-ada" in shown


async def test_a_students_kernel_posts_to_a_postgres_backed_server_as_the_student(
    jp_fetch, kernel_channels, jp_serverapp, pg_url
):
    """With PostgreSQL the kernels post through the server: a student's kernel posted with
    the owner's token (as the owner, an instructor, who may post anyone's events); now with
    the student's class token, so the server takes only the student's own events from it."""
    await asyncio.sleep(0)  # the server's URL is handed to kernels once its loop runs
    kernel_id = await start_kernel(jp_fetch, as_user("ada"), "sessions")
    cells = (*NOTEBOOK_CELLS[:2], "%tutor what does range(2, 10) give?", NOTEBOOK_CELLS[2])
    try:
        shown = await run_cells(kernel_channels, kernel_id, (*cells, WHO_CELL))
    finally:
        await jp_fetch("api", "kernels", kernel_id, method="DELETE")
    assert "delivered: True" in shown[3], shown
    assert "learner: ada token: token-ada" in shown[-1]
    assert jp_serverapp.identity_provider.token not in shown[-1]
    with EventStore(pg_url) as store:
        events = store.query()
    assert {"attempt", "cell_executed", "tutor_message"} <= set(events["kind"])
    assert set(events["learner_id"]) == {"ada"}
