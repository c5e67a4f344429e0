"""Engines: the offline default, and the OpenAI-compatible client against a real local HTTP
server speaking the chat completions stream (tests our client: requests, streaming, errors,
timeouts, fallback)."""

from __future__ import annotations

import json
import time

import pytest

from learnpulse.agents import EngineError, OfflineEngine, OpenAIChatEngine, ask, ask_stream
from learnpulse.agents.base import Draft
from learnpulse.agents.engines import EngineRequest, engine_from_env


def _request(text: str = "draft answer") -> EngineRequest:
    return EngineRequest(
        "Learning assistant", "Explains.", "what is a loop?", Draft(text, notes=("[n] a note",))
    )


def test_offline_engine_streams_the_draft_by_paragraph():
    chunks = list(OfflineEngine().stream(_request("one\n\ntwo\n\nthree")))
    assert chunks == ["one\n\n", "two\n\n", "three"]


def test_client_streams_and_speaks_the_protocol(chat_api):
    chat_api.text = "A loop repeats its body for each item."
    engine = OpenAIChatEngine(chat_api.url, "tiny-model", api_key="sk-test", timeout=5)
    chunks = list(engine.stream(_request()))
    assert len(chunks) == 8 and "".join(chunks) == chat_api.text
    sent = chat_api.requests[0]
    assert sent["path"] == "/v1/chat/completions"
    assert sent["headers"]["Authorization"] == "Bearer sk-test"
    body = sent["body"]
    assert body["model"] == "tiny-model" and body["stream"] is True
    assert [m["role"] for m in body["messages"]] == ["system", "user"]
    assert "draft answer" in body["messages"][0]["content"]
    assert body["messages"][-1]["content"] == "what is a loop?"


@pytest.mark.parametrize(("mode", "reason"), [("error", "HTTP 500"), ("malformed", "malformed")])
def test_client_errors_name_the_problem(chat_api, mode, reason):
    chat_api.mode = mode
    with pytest.raises(EngineError, match=reason):
        list(OpenAIChatEngine(chat_api.url, "m", timeout=5).stream(_request()))


def test_client_times_out(chat_api):
    chat_api.mode = "slow"
    started = time.monotonic()
    with pytest.raises(EngineError, match=r"timed out|TimeoutError"):
        list(OpenAIChatEngine(chat_api.url, "m", timeout=0.5).stream(_request()))
    assert time.monotonic() - started < 2.5


def test_unreachable_server_falls_back_to_offline(course):
    engine = OpenAIChatEngine("http://127.0.0.1:9/v1", "m", timeout=1)
    reply = ask("what does range(5) give?", learner_id="ada", course=course, engine=engine)
    assert reply.engine.startswith("offline (fallback:")
    assert "not including 5" in reply.text


@pytest.mark.parametrize("mode", ["error", "slow", "malformed"])
def test_tutor_falls_back_to_the_offline_answer(course, chat_api, mode):
    chat_api.mode = mode
    engine = OpenAIChatEngine(chat_api.url, "m", timeout=0.5)
    reply = ask("what does range(5) give?", learner_id="ada", course=course, engine=engine)
    assert reply.engine.startswith("offline (fallback:")
    assert "not including 5" in reply.text


@pytest.mark.parametrize(
    "event",
    [
        {"choices": ["text"]},
        {"choices": [{"delta": "text"}]},
        {"choices": [{"delta": {"content": 5}}]},
        {"choices": [{"delta": {"content": ["a", "b"]}}]},
    ],
)
def test_events_of_the_wrong_shape_fall_back_to_the_offline_answer(course, chat_api, event):
    # a choice or delta that is no object raised AttributeError, a content that is no string
    # TypeError in the guardrails: the tutor failed instead of answering offline
    chat_api.mode, chat_api.malformed = "malformed", f"data: {json.dumps(event)}\n\n".encode()
    engine = OpenAIChatEngine(chat_api.url, "m", timeout=5)
    reply = ask("what does range(5) give?", learner_id="ada", course=course, engine=engine)
    assert reply.engine.startswith("offline (fallback: malformed stream event")
    assert "not including 5" in reply.text


def test_model_failing_mid_stream_keeps_what_was_said_and_adds_the_offline_answer(course, chat_api):
    chat_api.mode, chat_api.text = "cut", "range gives numbers from zero up to the stop value"
    engine = OpenAIChatEngine(chat_api.url, "m", timeout=5)
    stream = ask_stream("what does range(5) give?", learner_id="ada", course=course, engine=engine)
    text = "".join(stream)
    assert text.startswith("range gives numbers")
    assert "did not finish" in text and "not including 5" in text
    assert stream.reply.engine.startswith("offline (fallback:")


def test_tutor_uses_the_model_answer_and_its_history(course, chat_api, lite_store):
    chat_api.text = "A dictionary maps keys to values [1]."
    engine = OpenAIChatEngine(chat_api.url, "m", timeout=5)
    ask("what is a dictionary?", learner_id="ada", course=course, engine=engine, store=lite_store)
    reply = ask("and how do I loop over one?", learner_id="ada", course=course, engine=engine,
                store=lite_store)  # fmt: skip
    assert reply.text == chat_api.text and reply.engine == "openai:m"
    roles = [m["role"] for m in chat_api.requests[-1]["body"]["messages"]]
    assert roles == ["system", "user", "assistant", "user"]


def test_engine_from_environment():
    assert isinstance(engine_from_env({}), OfflineEngine)
    env = {
        "LEARNPULSE_LLM_URL": "http://localhost:11434/v1",
        "LEARNPULSE_LLM_MODEL": "qwen",
        "LEARNPULSE_LLM_API_KEY_ENV": "MY_KEY",
        "MY_KEY": "k",
        "LEARNPULSE_LLM_TIMEOUT": "3",
    }
    engine = engine_from_env(env)
    assert (engine.name, engine.api_key, engine.timeout) == ("openai:qwen", "k", 3.0)
    with pytest.raises(ValueError, match="LEARNPULSE_LLM_MODEL"):
        engine_from_env({"LEARNPULSE_LLM_URL": "http://x/v1"})
    with pytest.raises(ValueError, match="LEARNPULSE_LLM_TIMEOUT"):
        engine_from_env({**env, "LEARNPULSE_LLM_TIMEOUT": "soon"})
    with pytest.raises(ValueError, match="http"):
        OpenAIChatEngine("localhost:11434", "m")
