"""The tutor endpoints through a real Jupyter server: agents, chat, stream, history."""

from __future__ import annotations

import json

import pytest
from tornado.httpclient import HTTPClientError

from learnpulse.agents import generate_exercise
from learnpulse.store import EventStore
from tests.extension.conftest import ANONYMOUS, as_user


async def _chat(jp_fetch, body, user="ada"):
    response = await jp_fetch(
        "learnpulse", "api", "tutor", "chat", method="POST", body=json.dumps(body),
        headers=as_user(user),
    )  # fmt: skip
    return json.loads(response.body)


async def test_agents_lists_the_five(jp_fetch):
    response = await jp_fetch("learnpulse", "api", "tutor", "agents", headers=as_user("ada"))
    names = [a["name"] for a in json.loads(response.body)["agents"]]
    assert {"assistant", "reviewer", "generator", "explorer", "coach"} <= set(names)


async def test_chat_answers_with_sources_and_logs_for_the_signed_in_user(jp_fetch, lp_db_url):
    reply = await _chat(jp_fetch, {"message": "what does range(5) give?"})
    assert set(reply) >= {"text", "agent", "sources", "confidence", "actions"}
    assert reply["agent"] == "assistant"
    assert any(s["id"].startswith("course:loops#range") for s in reply["sources"])
    assert "not including 5" in reply["text"]
    with EventStore(lp_db_url) as store:
        logged = store.query(kinds="tutor_message")
    assert logged.height == 2
    assert set(logged.get_column("learner_id")) == {"ada"}


async def test_chat_honours_agent_and_exercise(jp_fetch):
    reply = await _chat(
        jp_fetch, {"message": "give me the full solution", "exercise": "ex-loops-04"}
    )
    assert reply["agent"] == "assistant"
    assert "won't give you the solution" in reply["text"]
    assert "result += n" not in reply["text"]
    review = await _chat(jp_fetch, {"message": "plan my week", "agent": "reviewer"})
    assert review["agent"] == "reviewer"


async def test_chat_review_applies_the_exercises_rules(jp_fetch):
    """The reviewer checks code against the exercise's rules as the checker does: for an
    authored exercise, and for a practice exercise the tutor generated."""
    summed = "Please review:\n```python\ndef total(numbers):\n    return sum(numbers)\n```"
    body = {"message": summed, "agent": "reviewer", "exercise": "ex-loops-04"}
    review = await _chat(jp_fetch, body)
    assert review["agent"] == "reviewer"
    assert (
        "**The exercise's rules:** this exercise asks you not to use the built-in sum() (line 2) "
        "and to use a for loop." in review["text"]
    )
    loop = "r = 0\n    for n in numbers:\n        r += n\n    return r"
    looped = summed.replace("return sum(numbers)", loop)
    clean = await _chat(jp_fetch, {**body, "message": looped})
    assert "exercise's rules" not in clean["text"]
    practice = generate_exercise("loops", 0.9, seed=1)  # count the multiples, with a for loop
    assert practice.required == ("for",)
    comprehension = f"def {practice.function}(numbers):\n    return len([n for n in numbers])"
    message = f"review my code\n```python\n{comprehension}\n```"
    generated = await _chat(jp_fetch, {**body, "message": message, "exercise": practice.id})
    assert "this exercise asks you to use a for loop." in generated["text"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"message": "hi", "learner_id": "bob"}, "learner_id"),
        ({"agent": "coach"}, "message"),
        ({"message": 3}, "message"),
        ({"message": "hi", "agent": "oracle"}, "oracle"),
        ({"message": "x" * 10_001}, "at most"),
    ],
)
async def test_chat_rejects_bad_bodies_naming_the_field(jp_fetch, body, field):
    with pytest.raises(HTTPClientError) as info:
        await _chat(jp_fetch, body)
    assert info.value.code == 400
    assert field in json.loads(info.value.response.body)["message"]


async def test_chat_and_stream_refuse_json_nested_too_deeply(jp_fetch, jp_ws_fetch):
    # json.loads raised RecursionError: an HTTP 500, and a closed WebSocket
    body = "[" * 100_000
    with pytest.raises(HTTPClientError) as info:
        await jp_fetch(
            "learnpulse", "api", "tutor", "chat", method="POST", body=body, headers=as_user("ada")
        )
    assert info.value.code == 400
    assert "nested too deeply" in json.loads(info.value.response.body)["message"]
    ws = await jp_ws_fetch("learnpulse", "api", "tutor", "stream", headers=as_user("ada"))
    ws.write_message(body)
    error = json.loads(await ws.read_message())
    assert error["type"] == "error" and "nested too deeply" in error["message"]
    ws.write_message(json.dumps({"message": "show me the concept map"}))
    assert json.loads(await ws.read_message())["type"] == "start"
    ws.close()


async def test_chat_unknown_exercise_is_not_found(jp_fetch):
    with pytest.raises(HTTPClientError) as info:
        await _chat(jp_fetch, {"message": "hint", "exercise": "ex-loops-99"})
    assert info.value.code == 404
    assert "ex-loops-99" in json.loads(info.value.response.body)["message"]


async def test_tutor_requires_authentication(jp_fetch):
    for path, method, body in (("agents", "GET", None), ("chat", "POST", '{"message": "x"}')):
        with pytest.raises(HTTPClientError) as info:
            await jp_fetch(
                "learnpulse", "api", "tutor", path, method=method, body=body, headers=ANONYMOUS
            )
        assert info.value.code == 403


async def test_students_reach_only_their_own_conversation(jp_fetch):
    await _chat(jp_fetch, {"message": "what is a list comprehension"}, user="ada")
    await _chat(jp_fetch, {"message": "how do I open a file"}, user="bob")
    own = await jp_fetch("learnpulse", "api", "tutor", "history", headers=as_user("bob"))
    texts = [m["text"] for m in json.loads(own.body)["messages"]]
    assert texts[0] == "how do I open a file" and len(texts) == 2
    with pytest.raises(HTTPClientError) as info:
        await jp_fetch(
            "learnpulse", "api", "tutor", "history", params={"learner": "ada"},
            headers=as_user("bob"),
        )  # fmt: skip
    assert info.value.code == 403
    teacher = await jp_fetch(
        "learnpulse", "api", "tutor", "history", params={"learner": "ada"},
        headers=as_user("teacher"),
    )  # fmt: skip
    assert json.loads(teacher.body)["messages"][0]["text"] == "what is a list comprehension"
    for learner in ("", "x" * 10_000):  # an empty conversation, and no length limit, before
        with pytest.raises(HTTPClientError) as info:
            await jp_fetch(
                "learnpulse", "api", "tutor", "history", params={"learner": learner},
                headers=as_user("teacher"),
            )  # fmt: skip
        assert info.value.code == 400


async def test_stream_sends_start_chunks_and_the_whole_reply(jp_ws_fetch, lp_db_url):
    ws = await jp_ws_fetch("learnpulse", "api", "tutor", "stream", headers=as_user("ada"))
    ws.write_message(json.dumps({"message": "show me the concept map"}))
    frames = []
    while not frames or frames[-1]["type"] != "end":
        frames.append(json.loads(await ws.read_message()))
    assert frames[0]["type"] == "start" and frames[0]["agent"] == "explorer"
    chunks = [f["text"] for f in frames if f["type"] == "chunk"]
    assert len(chunks) > 1
    assert "".join(chunks) == frames[-1]["text"]
    ws.write_message(json.dumps({"message": "hi", "learner_id": "bob"}))
    error = json.loads(await ws.read_message())
    assert error["type"] == "error" and "learner_id" in error["message"]
    ws.close()
    with EventStore(lp_db_url) as store:
        assert set(store.query(kinds="tutor_message").get_column("learner_id")) == {"ada"}


async def test_a_stream_failure_is_an_error_frame_and_the_socket_goes_on(jp_ws_fetch, monkeypatch):
    # an unexpected exception closed the socket (the HTTP side answers "internal error")
    from learnpulse_server.handlers import tutor

    real = tutor.ask_stream
    failing = {"once": True}

    def fail_once(*args, **kwargs):
        if failing.pop("once", False):
            raise RuntimeError("boom")
        return real(*args, **kwargs)

    monkeypatch.setattr(tutor, "ask_stream", fail_once)
    ws = await jp_ws_fetch("learnpulse", "api", "tutor", "stream", headers=as_user("ada"))
    ws.write_message(json.dumps({"message": "show me the concept map"}))
    error = json.loads(await ws.read_message())
    assert error == {"type": "error", "message": "internal error (logged on the server)"}
    ws.write_message(json.dumps({"message": "show me the concept map"}))
    assert json.loads(await ws.read_message())["type"] == "start"
    ws.close()


async def test_stream_refuses_anonymous(jp_ws_fetch):
    with pytest.raises(HTTPClientError) as info:
        await jp_ws_fetch("learnpulse", "api", "tutor", "stream", headers=ANONYMOUS)
    assert info.value.code == 403
