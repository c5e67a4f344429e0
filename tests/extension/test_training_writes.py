"""Training runs written through the server (PUT training/runs/<id>, POST .../metrics): what a
kernel with ``$LEARNPULSE_SERVER_URL`` logs is what the researcher sees, always as the
token's user, and a bad body is refused naming the field with nothing stored.

Each test runs against a server whose store is SQLite, then PostgreSQL (a server with a
PostgreSQL store is the one whose kernels write through it).
"""

from __future__ import annotations

import asyncio
import json
import math
from datetime import datetime, timezone

import pytest
from tornado.httpclient import HTTPClientError

import learnpulse
from learnpulse.collectors.destinations import SERVER_URL_ENV, TOKEN_ENV
from learnpulse.collectors.server_store import ServerStore
from learnpulse.collectors.training import TrainingConfig, TrainingRun
from learnpulse.store import EventStore
from tests.extension.conftest import as_user, learnpulse_app

#: Validation losses of an overfitting run: lowest at step 1, then rising for good.
VAL_LOSSES = [0.9, 0.7, 0.75, 0.8, 0.9, 1.0]
STARTED = "2024-09-02T09:00:00+00:00"


@pytest.fixture
def lp_db_url(store_url):
    """The server's store: a SQLite file, then a PostgreSQL database."""
    return store_url


@pytest.fixture
def server_url(jp_serverapp) -> str:
    return f"http://127.0.0.1:{jp_serverapp.port}{jp_serverapp.base_url}"


def _run(run_id: str, **fields) -> dict:
    """A run record as TrainingRun saves it."""
    started = datetime(2024, 9, 2, 9, tzinfo=timezone.utc)
    record = {"run_id": run_id, "name": "mlp", "learner_id": "ada", "course_id": "course-a"}
    return {**record, "started": started, "ended": None, "status": "running", **fields}


async def _get(jp_fetch, *path, user):
    response = await jp_fetch("learnpulse", "api", "training", *path, headers=as_user(user))
    return json.loads(response.body)


async def _send(jp_fetch, method, *path, body, user="ada") -> tuple[int, dict]:
    """Status and JSON answer of a write; ``body`` as text is sent as it is."""
    text = body if isinstance(body, str) else json.dumps(body)
    try:
        response = await jp_fetch(
            "learnpulse", "api", "training", *path, method=method, body=text,
            headers=as_user(user),
        )  # fmt: skip
    except HTTPClientError as error:
        return error.code, json.loads(error.response.body)
    return response.code, json.loads(response.body)


def _train(monkeypatch, server_url: str) -> TrainingRun:
    """ada's notebook on a server that told its kernels where it is: an overfitting loop,
    flushed every 4 points, with one loss that diverged to NaN."""
    with monkeypatch.context() as patch:
        patch.setenv(SERVER_URL_ENV, server_url)
        patch.setenv(TOKEN_ENV, "token-ada")
        patch.setenv("LEARNPULSE_LEARNER_ID", "ada")
        config = TrainingConfig(flush_every=4)
        with learnpulse.track_training("mlp", params={"width": 64}, config=config) as run:
            assert isinstance(run.store, ServerStore)
            for epoch, val_loss in enumerate(VAL_LOSSES):
                run.log(epoch=epoch, loss=1 / (epoch + 1), val_loss=val_loss, grad_norm=2.0)
            run.log(epoch=6, loss=math.nan)
    return run


async def test_a_run_logged_in_a_kernel_told_the_server_is_shown_there(
    jp_fetch, server_url, monkeypatch
):
    """It went to a SQLite file under the kernel's Jupyter data dir: the researcher's
    dashboard showed nothing."""
    run = await asyncio.to_thread(_train, monkeypatch, server_url)  # blocking: off the loop
    (summary,) = (await _get(jp_fetch, "runs", user="ada"))["runs"]
    assert summary["run_id"] == run.run_id and summary["learner_id"] == "ada"
    assert summary["status"] == "finished" and summary["n_logs"] == 7
    assert summary["overfitting"]["overfitting"] is True
    assert summary["best_val_loss"] == {"value": 0.7, "step": 1, "epoch": 1}
    detail = await _get(jp_fetch, "runs", run.run_id, user="teacher")
    assert detail["params"] == {"width": 64} and detail["ended"] is not None
    assert [m["val_loss"] for m in detail["metrics"]] == [*VAL_LOSSES, None]
    assert json.loads(detail["metrics"][0]["extra"]) == {"grad_norm": 2.0}
    assert detail["metrics"][-1]["loss"] is None
    assert json.loads(detail["metrics"][-1]["extra"]) == {"non_finite": ["loss"]}


async def test_points_go_in_halves_to_a_server_that_takes_fewer_at_once(
    jp_fetch, jp_serverapp, server_url
):
    learnpulse_app(jp_serverapp).max_batch_training_metrics = 3
    store = ServerStore(server_url, "token-ada")
    await asyncio.to_thread(store.save_training_run, _run("run-halves"))
    rows = [{"seq": i, "ts": datetime.now(timezone.utc), "loss": 1.0 / (i + 1)} for i in range(10)]
    assert await asyncio.to_thread(store.append_training_metrics, "run-halves", rows) == 10
    assert await asyncio.to_thread(store.append_training_metrics, "run-halves", rows) == 0
    detail = await _get(jp_fetch, "runs", "run-halves", user="ada")
    assert [m["seq"] for m in detail["metrics"]] == list(range(10))


async def test_a_run_is_always_its_callers(jp_fetch, server_url, lp_db_url):
    """Whatever the record or body says, a student writes only their own runs, and nobody
    updates or adds to someone else's."""
    ada, bob = ServerStore(server_url, "token-ada"), ServerStore(server_url, "token-bob")
    await asyncio.to_thread(bob.save_training_run, _run("run-b", learner_id="bob"))
    # a kernel whose record names bob, with ada's token: stored as ada's
    await asyncio.to_thread(ada.save_training_run, _run("run-a", learner_id="bob"))
    body = {"name": "mine", "course_id": "c", "started": STARTED, "status": "failed"}
    as_bob = {**body, "learner_id": "bob"}
    point = {"metrics": [{"seq": 0, "ts": STARTED, "loss": 9.0}]}
    refused = {
        "ada updating bob's run": await _send(jp_fetch, "PUT", "runs", "run-b", body=body),
        "ada naming bob": await _send(jp_fetch, "PUT", "runs", "new-run", body=as_bob),
        "ada adding to bob's run": await _send(
            jp_fetch, "POST", "runs", "run-b", "metrics", body=point
        ),
        "teacher updating bob's run": await _send(
            jp_fetch, "PUT", "runs", "run-b", body=body, user="teacher"
        ),
        "teacher adding to bob's run": await _send(
            jp_fetch, "POST", "runs", "run-b", "metrics", body=point, user="teacher"
        ),
    }
    assert {what: code for what, (code, _) in refused.items()} == {
        "ada updating bob's run": 404,
        "ada naming bob": 403,
        "ada adding to bob's run": 404,
        "teacher updating bob's run": 404,
        "teacher adding to bob's run": 404,
    }
    assert "bob" not in refused["ada updating bob's run"][1]["message"]  # not even whose it is
    assert "field 'learner_id'" in refused["ada naming bob"][1]["message"]
    rows = [{"seq": 0, "ts": datetime.now(timezone.utc), "loss": 9.0}]
    with pytest.raises(ValueError, match="HTTP 404: no training run 'run-b'"):
        await asyncio.to_thread(ada.append_training_metrics, "run-b", rows)
    with EventStore(lp_db_url) as store:
        runs = store.training_runs().sort("run_id")
        assert runs.select("run_id", "learner_id", "name", "status").rows() == [
            ("run-a", "ada", "mlp", "running"),
            ("run-b", "bob", "mlp", "running"),
        ]
        assert store.training_metrics(["run-b", "new-run"]).is_empty()


#: Run bodies refused, and the field the 400 names (after a valid body's other fields).
BAD_RUNS = [
    ({"status": "done"}, "status"),
    ({"status": None}, "status"),
    ({"name": None}, "name"),
    ({"name": ""}, "name"),
    ({"name": "x" * 257}, "name"),
    ({"name": "mlp\x00"}, "name"),  # PostgreSQL cannot store NUL in text
    ({"course_id": 5}, "course_id"),
    ({"started": "yesterday"}, "started"),
    ({"started": "2024-09-02T09:00:00"}, "started"),  # no timezone
    ({"started": "9999-12-31T23:59:59-23:59"}, "started"),
    ({"ended": "2024-09-01T09:00:00Z"}, "ended"),  # before it started
    ({"params": [1, 2]}, "params"),
    ({"params": {"lr": math.inf}}, "params"),
    ({"params": json.loads('{"a":' * 100 + "1" + "}" * 100)}, "params"),
    ({"params": {"blob": "x" * 70_000}}, "params"),
    ({"run_id": "another-run"}, "run_id"),
    ({"unexpected": 1}, "unexpected"),
]
#: Metric points refused, and the field the 400 names (the first point is valid).
GOOD_POINT = {"seq": 0, "ts": STARTED, "epoch": 0, "step": 0, "loss": 1.0}
BAD_POINTS = [
    ({"ts": None}, "metrics[1].ts"),
    ({"ts": "2024-09-02 09:00"}, "metrics[1].ts"),
    ({"seq": -1}, "metrics[1].seq"),
    ({"seq": 2**31}, "metrics[1].seq"),
    ({"seq": "1"}, "metrics[1].seq"),
    ({"seq": True}, "metrics[1].seq"),
    ({"epoch": 1.5}, "metrics[1].epoch"),
    ({"epoch": 2**31}, "metrics[1].epoch"),
    ({"step": 2**64}, "metrics[1].step"),
    ({"loss": "high"}, "metrics[1].loss"),
    ({"val_loss": math.nan}, "metrics[1].val_loss"),
    ({"lr": 10**400}, "metrics[1].lr"),
    ({"extra": [1]}, "metrics[1].extra"),
    ({"extra": {"grad": "big"}}, "metrics[1].extra.grad"),
    ({"extra": {"non_finite": "loss"}}, "metrics[1].extra.non_finite[]"),
    ({"extra": {"a\udfff": 1.0}}, "metrics[1].extra key"),
    ({"note": 1}, "metrics[1].note"),
]


async def test_bad_bodies_are_refused_naming_the_field_and_nothing_is_stored(
    jp_fetch, jp_serverapp, lp_db_url
):
    body = {"name": "mlp", "course_id": "c", "started": STARTED, "status": "running"}
    answers = {}
    for override, field in BAD_RUNS:
        text = json.dumps({**body, **override})  # NaN and Infinity as sloppy clients send them
        answers[field, str(override)] = await _send(jp_fetch, "PUT", "runs", "r1", body=text)
    answers["run_id", "too long"] = await _send(jp_fetch, "PUT", "runs", "x" * 37, body=body)
    assert (await _send(jp_fetch, "PUT", "runs", "r1", body=body))[0] == 200
    for override, field in BAD_POINTS:
        points = {"metrics": [GOOD_POINT, {**GOOD_POINT, "seq": 1, **override}]}
        answers[field, str(override)] = await _send(
            jp_fetch, "POST", "runs", "r1", "metrics", body=json.dumps(points)
        )
    problems = [
        f"{field} {case}: {code} {answer}"
        for (field, case), (code, answer) in answers.items()
        if code != 400 or f"field '{field}'" not in answer["message"]
    ]
    assert not problems, "\n".join(problems)
    shapes = ['{"points": []}', '{"metrics": {}}', "[]", "{", '{"metrics": [], "x": 1}']
    for text in shapes:
        assert (await _send(jp_fetch, "POST", "runs", "r1", "metrics", body=text))[0] == 400
    learnpulse_app(jp_serverapp).max_batch_training_metrics = 1
    too_many = {"metrics": [GOOD_POINT, {**GOOD_POINT, "seq": 1}]}
    code, answer = await _send(jp_fetch, "POST", "runs", "r1", "metrics", body=too_many)
    assert code == 413 and "the limit is 1" in answer["message"]
    with EventStore(lp_db_url) as store:
        runs = store.training_runs()
        assert runs.select("run_id", "learner_id", "status").rows() == [("r1", "ada", "running")]
        assert store.training_metrics("r1").is_empty()
