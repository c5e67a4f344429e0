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


async def test_chat_restates_an_exercise_the_learner_does_not_understand(jp_fetch):
    """Through tutor/chat, with the exercise in the body or named by its id in the message."""
    body = {"message": "I don't understand this exercise", "exercise": "ex-loops-06"}
    replies = [
        await _chat(jp_fetch, body),
        await _chat(jp_fetch, {"message": "explain ex-loops-06"}),
    ]
    for reply in replies:
        assert reply["agent"] == "assistant"
        assert reply["text"].startswith("Here is what **Running maximum** asks, part by part:")
        assert "The check calls it on 4 cases, such as `largest([3, 9, 2])`." in reply["text"]
        assert "exercise:ex-loops-06" in [s["id"] for s in reply["sources"]]


async def test_chat_a_conversation_of_a_students_questions(jp_fetch):
    """One learner's questions in a row through tutor/chat, each answered for what it asks.
    Before, once the coach had answered, "I don't understand this exercise" and "hello" were
    taken for follow-ups of it and got a four-week study plan."""
    body = {"exercise": "ex-loops-04"}
    asked = [
        ("how am I doing?", "coach", "You have not answered an exercise yet"),
        ("I don't understand this exercise", "assistant", "Here is what **Sum of a list** asks"),
        ("what should I do next?", "explorer", "You are on **Sum of a list** (`ex-loops-04`)"),
        ("thanks!", None, "You're welcome!"),
        ("is my answer right?", "assistant", "put `%%check ex-loops-04` at the top of the cell"),
        ("hello", None, "Hi! I am the tutor of **Introduction to Python**."),
    ]
    for message, agent, starts in asked:
        reply = await _chat(jp_fetch, {**body, "message": message}, user="bob")
        assert starts in reply["text"], (message, reply["text"][:200])
        assert agent is None or reply["agent"] == agent, (message, reply["agent"])
        assert "Study plan" not in reply["text"]


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


PASTED_ERROR = """I get this:
Traceback (most recent call last):
  File "/tmp/ipykernel_1/2.py", line 2, in <module>
    scores["bob"]
KeyError: 'bob'
"""


async def test_chat_follow_ups_stay_about_the_learners_own_error(jp_fetch, lp_db_url):
    """After a pasted traceback, "why?" got "Show me the code you want reviewed": the error
    was not kept with the conversation between requests. Each learner's is their own."""
    first = await _chat(jp_fetch, {"message": PASTED_ERROR})
    assert first["agent"] == "reviewer" and "KeyError" in first["text"]
    for follow_up in ("why?", "I still don't get it", "can you show a smaller example?"):
        reply = await _chat(jp_fetch, {"message": follow_up})
        assert reply["agent"] == "reviewer", follow_up
        assert 'Still about your **KeyError** (Line 2: `scores["bob"]`)' in reply["text"]
    other = await _chat(jp_fetch, {"message": "why?"}, user="bob")  # bob asked nothing yet
    assert "KeyError" not in other["text"] and "scores" not in other["text"]
    history = await jp_fetch("learnpulse", "api", "tutor", "history", headers=as_user("bob"))
    assert "scores" not in history.body.decode()
    from learnpulse.agents.tutor import ERROR_FOLLOW_UP, MAX_LOGGED_ERROR_CHARS

    long_key = "k" * 9_000  # the message may be 10,000 characters; the stored error is capped
    await _chat(
        jp_fetch, {"message": f"Traceback:\n  File \"x.py\", line 1\nKeyError: '{long_key}'"}
    )
    with EventStore(lp_db_url) as store:
        logged = store.query(kinds="tutor_message", learners="ada")
    payloads = [json.loads(p) for p in logged.get_column("payload")]
    assert payloads[0]["error"].endswith("KeyError: 'bob'")
    assert payloads[3]["routing"] == ERROR_FOLLOW_UP
    assert len(payloads[-2]["error"]) <= MAX_LOGGED_ERROR_CHARS < len(long_key)
    again = await _chat(jp_fetch, {"message": "why?"})
    assert "Still about your **KeyError**" in again["text"]


async def test_chat_explains_an_error_another_way_each_time_then_its_concept(jp_fetch, lp_db_url):
    """Asked again through tutor/chat, "why?" got the same text each time; the suggested
    "Explain the concept behind this" explained the error once more. The ladder is each
    learner's own."""
    first = await _chat(jp_fetch, {"message": PASTED_ERROR})
    texts = [(await _chat(jp_fetch, {"message": "why?"}))["text"] for _ in range(5)]
    assert len(set(texts)) == 5
    assert [t.split("\n\n")[1].split(":")[0] for t in texts[:2]] == [
        "In simpler words",
        'Step by step, here is what Python does with line 2, `scores["bob"]`',
    ]
    assert "I have explained your **KeyError**" in texts[4]
    concept = await _chat(jp_fetch, {"message": first["actions"][0]})
    assert concept["agent"] == "assistant"
    assert concept["sources"][0]["id"] == "course:dicts#Missing keys"
    assert concept["text"].startswith("The concept behind your **KeyError**")
    await _chat(jp_fetch, {"message": PASTED_ERROR}, user="bob")
    bob = await _chat(jp_fetch, {"message": "why?"}, user="bob")
    assert "In simpler words" in bob["text"]  # bob's ladder starts at the bottom
    with EventStore(lp_db_url) as store:
        logged = store.query(kinds="tutor_message", learners="ada")
    rungs = [json.loads(p).get("rung") for p in logged.get_column("payload")][1::2]
    assert rungs == [None, "simpler", "trace", "analogy", "example", "ran-out", "concept"]


async def test_chat_follow_ups_of_a_hint_never_give_the_solution(jp_fetch):
    body = {"exercise": "ex-loops-04"}
    first = await _chat(jp_fetch, {**body, "message": "give me a hint"})
    assert first["hint_level"] == 1
    reworded = await _chat(jp_fetch, {**body, "message": "I don't understand this hint"})
    assert "The hint you opened last for **Sum of a list** says" in reworded["text"]
    assert reworded["hint_level"] is None  # no new rung opened
    refused = await _chat(jp_fetch, {**body, "message": "just show me the answer"})
    assert "won't give you the solution" in refused["text"] and refused["hint_level"] == 2
    for reply in (first, reworded, refused):
        assert "result += n" not in reply["text"]


async def test_chat_asked_again_about_a_hint_explains_it_another_way_each_time(jp_fetch, lp_db_url):
    """Through tutor/chat, "why?" after a hint got the same reply each time, and a typed
    "explain the concept behind this exercise" a practice question. The ladder of a hint is
    each learner's own, and none of its rungs gives the solution."""
    from learnpulse.agents.tutor import CONCEPT_FOLLOW_UP

    body = {"exercise": "ex-loops-04"}
    await _chat(jp_fetch, {**body, "message": "give me a hint"})
    replies = [await _chat(jp_fetch, {**body, "message": "why?"}) for _ in range(5)]
    texts = [reply["text"] for reply in replies]
    assert len(set(texts[:4])) == 4 and texts[3] == texts[4]
    assert "The hint you opened last for **Sum of a list** says" in texts[0]
    assert texts[1].startswith("The concept behind **Sum of a list**, from the course")
    assert "a small example on a different problem" in texts[2] and "%exercise gen-" in texts[2]
    assert "`%hint ex-loops-04`" in texts[3] and "show your instructor" in texts[3]
    assert replies[3]["actions"] == ["Another hint"]
    for reply in replies:
        assert reply["agent"] == "assistant" and "result += n" not in reply["text"]
    await _chat(jp_fetch, {**body, "message": "give me a hint"}, user="bob")
    bob = await _chat(jp_fetch, {**body, "message": "why?"}, user="bob")
    assert "The hint you opened last for **Sum of a list** says" in bob["text"]
    typed = await _chat(jp_fetch, {**body, "message": "explain the concept behind this exercise"})
    assert typed["agent"] == "assistant" and typed["text"] == texts[1].split("\n\n*Still")[0]
    with EventStore(lp_db_url) as store:
        logged = store.query(kinds="tutor_message", learners="ada")
    payloads = [json.loads(p) for p in logged.get_column("payload")][1::2]
    rungs = [p.get("rung") for p in payloads]
    assert rungs == [None, "reworded", "concept", "example", "ran-out", "ran-out", "concept"]
    assert payloads[-1]["routing"] == CONCEPT_FOLLOW_UP  # a follow-up of the hint: its concept


@pytest.mark.parametrize("chat_before", [None, "make me a study plan for the next 3 weeks"])
async def test_chat_follow_up_of_a_check_in_the_kernel_is_about_that_answer(
    jp_fetch, lp_db_url, chat_before
):
    """A check the learner's kernel stored is in the conversation the server reads: "why?"
    without an exercise in the body is about it, under that exercise's policy; and not about
    the coach's plan the learner asked for before the check (it went to the coach)."""
    from datetime import datetime, timezone

    from learnpulse.course import demo_course
    from tests.conftest import make_event

    if chat_before:
        assert (await _chat(jp_fetch, {"message": chat_before}))["agent"] == "coach"
    answer = "def total(numbers):\n    result = 0\n    for n in numbers:\n        result += n\n"
    answer += "        return result\n"  # inside the loop
    checked = make_event(
        learner_id="ada", course_id=demo_course().id, item_id="ex-loops-04", correct=False,
        ts=datetime.now(timezone.utc).isoformat(), skills=["loops"],
        payload={"type": "code", "answer": answer, "feedback": "1 of 4 tests pass."},
    )  # fmt: skip
    with EventStore(lp_db_url) as store:
        store.append([checked])
    reply = await _chat(jp_fetch, {"message": "why?"})
    assert reply["agent"] == "reviewer"
    assert reply["text"].startswith("About your last answer to **Sum of a list**")
    assert "1 of 4 tests pass." in reply["text"] and "return-in-loop" in reply["text"]
    again = await _chat(jp_fetch, {"message": "why?"})  # reviewed: another angle now
    assert again["agent"] == "assistant" and again["text"] != reply["text"]
    assert again["text"].startswith("About your last answer to **Sum of a list**")
    assert "The concept behind **Sum of a list**, from the course" in again["text"]
    other = await _chat(jp_fetch, {"message": "why?"}, user="bob")
    assert "Sum of a list" not in other["text"]


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
