"""Who may see what: every documented route x {anonymous, ada, bob, teacher}.

Table-driven from openapi.yaml (``x-learnpulse-access``, ``x-learnpulse-learner``), so a new
route is covered as soon as it is documented. Every request names **bob** wherever the
operation takes a learner: ada (another student) must then be refused or answered about
herself only, bob (himself) and teacher (instructor) answered. A student's answer must never
contain another seeded learner's id.
"""

from __future__ import annotations

import json
import re
import uuid
from copy import deepcopy
from typing import Any

import pytest
from tornado.httpclient import HTTPClientError

from learnpulse_server.handlers.openapi import openapi_document
from tests.extension.conftest import ANONYMOUS, SEEDED_LEARNERS, as_user
from tests.extension.contract import Operation, operations

#: The learner every request asks about.
PROBED = "bob"
USERS = ("anonymous", "ada", "bob", "teacher")
HTTP_OPERATIONS = [op for op in operations() if not op.websocket]
WS_OPERATIONS = [op for op in operations() if op.websocket]


def _resolve(node: dict[str, Any]) -> dict[str, Any]:
    target: Any = openapi_document()
    if "$ref" not in node:
        return node
    for part in node["$ref"].removeprefix("#/").split("/"):
        target = target[part]
    return target


def build_request(op: Operation) -> tuple[list[str], dict[str, str], bytes | None]:
    """URL path parts, query and body of ``op``: examples, with the learner set to PROBED."""
    learner = op.learner or {}
    path, query = op.path, {}
    for parameter in map(_resolve, op.spec.get("parameters", [])):
        value = PROBED if parameter["name"] == learner.get("name") else parameter.get("example")
        if parameter["in"] == "path":
            path = path.replace("{" + parameter["name"] + "}", str(value))
        elif value is not None:
            query[parameter["name"]] = str(value)
    body = None
    if "requestBody" in op.spec:
        example = deepcopy(op.spec["requestBody"]["content"]["application/json"]["example"])
        if learner.get("in") == "body":
            for event in example["events"]:
                event.update(learner_id=PROBED, id=str(uuid.uuid4()))
        body = json.dumps(example).encode()
    return ["learnpulse", "api", *path.strip("/").split("/")], query, body


def allowed_statuses(op: Operation, user: str) -> set[int]:
    """Statuses a user may get; 404 too where a path names a resource (the example id may not
    exist, e.g. a kernel id)."""
    names_resource = "{" in op.path and (op.learner or {}).get("in") != "path"
    success = {op.success} | ({404} if names_resource else set())
    if user == "anonymous" or (op.access == "instructor" and user != "teacher"):
        return {403}
    if op.access == "self" and user == "ada":  # a student asking about another learner
        return success | {403}
    return success


def leaked(user: str, text: str) -> list[str]:
    """Ids of other seeded learners appearing as JSON strings in a student's answer."""
    if user not in ("ada", "bob"):
        return []
    return [other for other in SEEDED_LEARNERS if other != user and f'"{other}"' in text]


async def call(jp_fetch, op: Operation, user: str) -> tuple[int, str]:
    parts, query, body = build_request(op)
    headers = ANONYMOUS if user == "anonymous" else as_user(user)
    try:
        response = await jp_fetch(
            *parts,
            method=op.method.upper(),
            params=query,
            body=body,
            headers=headers,
            allow_nonstandard_methods=True,
        )
    except HTTPClientError as error:
        return error.code, error.response.body.decode() if error.response else ""
    return response.code, response.body.decode()


@pytest.mark.parametrize("op", HTTP_OPERATIONS, ids=str)
async def test_http_route_access(jp_fetch, seeded, op):
    problems = []
    for user in USERS:
        status, text = await call(jp_fetch, op, user)
        if status not in allowed_statuses(op, user):
            problems.append(f"{user}: {status}, expected {sorted(allowed_statuses(op, user))}")
        if leaks := leaked(user, text):
            problems.append(f"{user}: answer contains learner(s) {leaks}")
    assert not problems, f"{op} ({op.access}): " + "; ".join(problems) + f"; last: {text[:300]}"


@pytest.mark.parametrize("op", WS_OPERATIONS, ids=str)
async def test_websocket_route_access(jp_ws_fetch, seeded, op):
    parts, query, _ = build_request(op)
    problems = []
    for user in USERS:
        headers = ANONYMOUS if user == "anonymous" else as_user(user)
        allowed = allowed_statuses(op, user)
        try:
            ws = await jp_ws_fetch(*parts, params=query, headers=headers)
        except HTTPClientError as error:
            if error.code not in allowed:
                problems.append(f"{user}: refused with {error.code}, expected {sorted(allowed)}")
            continue
        ws.close()
        if op.success not in allowed:
            problems.append(f"{user}: connected, expected {sorted(allowed)}")
    assert not problems, f"{op} ({op.access}): " + "; ".join(problems)


def test_every_route_and_user_is_in_the_matrix():
    assert len(HTTP_OPERATIONS) + len(WS_OPERATIONS) == len(operations()) >= 20
    for op in operations():
        for user in USERS:
            assert allowed_statuses(op, user), (op, user)
        if op.access == "instructor":
            assert allowed_statuses(op, "ada") == {403}
    assert re.fullmatch(r"[a-z]+", PROBED) and PROBED in SEEDED_LEARNERS
