"""GET training/runs and training/runs/<id>: who sees which runs."""

from __future__ import annotations

import json

import pytest
from tornado.httpclient import HTTPClientError

import learnpulse
from tests.extension.conftest import ANONYMOUS, as_user


@pytest.fixture
def runs(lp_db_url, monkeypatch):
    """One run for ada (overfitting), one for bob; returns their ids by learner."""
    ids = {}
    for learner, val in (("ada", [0.9, 0.7, 0.75, 0.8, 0.9, 1.0]), ("bob", [0.9, 0.8, 0.7])):
        monkeypatch.setenv("LEARNPULSE_LEARNER_ID", learner)
        with learnpulse.track_training(f"{learner}-mlp", store=lp_db_url) as run:
            for step, val_loss in enumerate(val):
                run.log(epoch=step, step=step, loss=1.0 / (step + 1), val_loss=val_loss, lr=0.01)
        ids[learner] = run.run_id
    return ids


async def _get(jp_fetch, *path, user, **params):
    response = await jp_fetch(
        "learnpulse", "api", "training", *path, headers=as_user(user), params=params
    )
    return json.loads(response.body)


async def _code(jp_fetch, *path, headers) -> int:
    try:
        return (await jp_fetch("learnpulse", "api", "training", *path, headers=headers)).code
    except HTTPClientError as error:
        return error.code


async def test_students_see_only_their_runs_and_instructors_all(jp_fetch, runs):
    ada = await _get(jp_fetch, "runs", user="ada")
    teacher = await _get(jp_fetch, "runs", user="teacher")
    ada_asking_for_bob = await _get(jp_fetch, "runs", user="ada", learner="bob")
    only_bob = await _get(jp_fetch, "runs", user="teacher", learner="bob")
    assert [r["run_id"] for r in ada["runs"]] == [runs["ada"]]
    assert [r["run_id"] for r in ada_asking_for_bob["runs"]] == [runs["ada"]]
    assert {r["run_id"] for r in teacher["runs"]} == set(runs.values())
    assert [r["learner_id"] for r in only_bob["runs"]] == ["bob"]
    summary = ada["runs"][0]
    assert summary["status"] == "finished" and summary["n_logs"] == 6
    assert summary["overfitting"]["overfitting"] is True
    assert summary["best_val_loss"]["step"] == 1


async def test_run_detail_and_404s(jp_fetch, runs):
    detail = await _get(jp_fetch, "runs", runs["bob"], user="bob")
    assert [m["step"] for m in detail["metrics"]] == [0, 1, 2]
    assert detail["metrics"][2]["val_loss"] == 0.7
    assert detail["overfitting"]["overfitting"] is False
    assert (await _get(jp_fetch, "runs", runs["bob"], user="teacher"))["name"] == "bob-mlp"
    assert await _code(jp_fetch, "runs", runs["bob"], headers=as_user("ada")) == 404
    assert await _code(jp_fetch, "runs", "no-such-run", headers=as_user("teacher")) == 404


@pytest.mark.parametrize("path", [("runs",), ("runs", "anything")])
async def test_training_routes_require_authentication(jp_fetch, path):
    assert await _code(jp_fetch, *path, headers=ANONYMOUS) == 403
