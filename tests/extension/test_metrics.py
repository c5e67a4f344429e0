"""GET metrics, metrics/history, metrics/kernels/<id> and WebSocket metrics/stream."""

from __future__ import annotations

import asyncio
import json

import pytest
from tornado.httpclient import HTTPClientError

from learnpulse_server.handlers.openapi import openapi_document
from tests.extension.conftest import ANONYMOUS, as_user

INTERVAL_S = 0.1
HEALTH_WINDOW_S = 0.5


@pytest.fixture
def jp_server_config(jp_server_config):
    app = {
        **jp_server_config["LearnPulseApp"],
        "metrics_interval_s": INTERVAL_S,
        "metrics_persist_interval_s": 0.2,
        "cpu_thresholds": [0.0, 100.0],
        "health_window_s": HEALTH_WINDOW_S,
    }
    return {**jp_server_config, "LearnPulseApp": app}


async def _get(jp_fetch, *path, user="ada", **params):
    response = await jp_fetch("learnpulse", "api", *path, headers=as_user(user), params=params)
    return json.loads(response.body)


async def _status(jp_fetch, *path, headers=None, **params) -> int:
    try:
        response = await jp_fetch("learnpulse", "api", *path, headers=headers, params=params)
    except HTTPClientError as error:
        return error.code
    return response.code


async def test_current_metrics_for_any_authenticated_user(jp_fetch):
    for user in ("ada", "teacher"):
        body = await _get(jp_fetch, "metrics", user=user)
        assert body["memory"]["total"] > 0 and 0 <= body["cpu"]["percent"] <= 100
        assert body["disk"]["total"] > 0
        assert body["gpu"]["available"] in (True, False)
        assert body["interval_s"] == INTERVAL_S
        assert body["thresholds"]["memory_percent"] == {"warning": 75.0, "critical": 85.0}
        assert body["thresholds"]["cpu_percent"] == {"warning": 0.0, "critical": 100.0}
        assert 0 <= body["health"]["score"] <= 100
    assert await _status(jp_fetch, "metrics", headers=ANONYMOUS) == 403


async def test_history_grows_is_bounded_by_limit_and_persisted(jp_fetch):
    await asyncio.sleep(6 * INTERVAL_S)
    body = await _get(jp_fetch, "metrics", "history")
    assert body["source"] == "memory" and len(body["samples"]) >= 3
    timestamps = [s["ts"] for s in body["samples"]]
    assert timestamps == sorted(timestamps)
    assert any(s["response_ms"] is not None for s in body["samples"])
    two = await _get(jp_fetch, "metrics", "history", limit="2")
    assert len(two["samples"]) == 2
    since = await _get(jp_fetch, "metrics", "history", since=timestamps[-2].replace("+00:00", "Z"))
    assert since["samples"][0]["ts"] >= timestamps[-2]
    await asyncio.sleep(0.5)
    stored = await _get(jp_fetch, "metrics", "history", source="store")
    assert stored["samples"] and set(stored["samples"][0]) >= {"cpu", "memory", "health"}


async def test_health_describes_the_configured_window_of_samples(jp_fetch):
    """Health was the newest sample's alone: one quiet sample after a sustained overload read
    100/100. It now describes the samples of the last health_window_s seconds."""
    await asyncio.sleep(8 * INTERVAL_S)
    health = (await _get(jp_fetch, "metrics"))["health"]
    assert health["window_s"] == HEALTH_WINDOW_S
    assert 1 <= health["samples"] <= HEALTH_WINDOW_S / INTERVAL_S  # not the whole history
    [cpu] = [a for a in health["alerts"] if a["metric"] == "cpu_percent"]  # warning level 0 %
    assert cpu["samples"] == health["samples"] and cpu["samples_at_level"] >= 1
    assert cpu["reason"].startswith("CPU at or above ")
    assert f"of the last {HEALTH_WINDOW_S:g} s; now {cpu['value']:.1f}%" in cpu["reason"]
    history = (await _get(jp_fetch, "metrics", "history"))["samples"]
    assert len(history) > health["samples"]
    assert {s["health"]["window_s"] for s in history} == {HEALTH_WINDOW_S}
    schemas = openapi_document()["components"]["schemas"]  # the contract says what is sent
    assert set(schemas["Health"]["required"]) == set(health)
    assert set(schemas["HealthAlert"]["required"]) == set(cpu)


def test_a_health_window_that_is_not_positive_is_refused():
    from traitlets import TraitError

    from learnpulse_server.app import LearnPulseApp

    with pytest.raises(TraitError, match="health_window_s"):
        LearnPulseApp(health_window_s=0)
    assert "at least half the samples" in LearnPulseApp.health_window_s.help


def test_persisting_samples_can_be_switched_off():
    """0 keeps the samples in memory only, as the trait's help says (0 used to be refused,
    which stopped the server at start)."""
    from learnpulse_server.app import LearnPulseApp

    assert LearnPulseApp(metrics_persist_interval_s=0).metrics_persist_interval_s == 0
    assert "0 keeps them in memory only" in LearnPulseApp.metrics_persist_interval_s.help


@pytest.mark.parametrize(
    ("params", "named"),
    [
        ({"limit": "x"}, "limit"),
        ({"limit": "0"}, "limit"),
        ({"source": "disk"}, "source"),
        ({"since": "yesterday"}, "since"),
    ],
)
async def test_bad_history_parameters_are_400_naming_them(jp_fetch, params, named):
    with pytest.raises(HTTPClientError) as info:
        await jp_fetch(
            "learnpulse", "api", "metrics", "history", params=params, headers=as_user("ada")
        )
    assert info.value.code == 400
    assert named in json.loads(info.value.response.body)["message"]


@pytest.mark.slow
async def test_kernel_metrics_by_kernel_id(jp_fetch):
    started = await jp_fetch("api", "kernels", method="POST", body="{}")
    kernel_id = json.loads(started.body)["id"]
    try:
        await asyncio.sleep(3 * INTERVAL_S)
        body = await _get(jp_fetch, "metrics", "kernels", kernel_id)
        assert body["kernel_id"] == kernel_id and body["pid"] > 0
        assert body["memory_rss"] > 10_000_000 and body["cpu_percent"] >= 0
        current = await _get(jp_fetch, "metrics")
        assert kernel_id in current["kernels"]
    finally:
        await jp_fetch("api", "kernels", kernel_id, method="DELETE")
    assert await _status(jp_fetch, "metrics", "kernels", kernel_id, headers=as_user("ada")) == 404
    assert await _status(jp_fetch, "metrics", "kernels", "nope", headers=as_user("ada")) == 404


async def test_stream_pushes_samples(jp_ws_fetch):
    socket = await jp_ws_fetch("learnpulse", "api", "metrics", "stream", headers=as_user("bob"))
    try:
        messages = [json.loads(await asyncio.wait_for(socket.read_message(), 5)) for _ in range(3)]
    finally:
        socket.close()
    stamps = [m["ts"] for m in messages]
    assert stamps == sorted(stamps) and len(set(stamps[1:])) == 2
    assert all("health" in m and "thresholds" in m for m in messages)


async def test_stream_refuses_anonymous(jp_ws_fetch):
    with pytest.raises(HTTPClientError) as info:
        await jp_ws_fetch("learnpulse", "api", "metrics", "stream", headers=ANONYMOUS)
    assert info.value.code == 403


async def test_stream_to_a_client_that_does_not_read_keeps_no_backlog(jp_ws_fetch, monkeypatch):
    """Every sample was written whether or not the client took the previous ones: one that
    did not read made the server keep a sample a second in memory for as long as it stayed."""
    from learnpulse_server.handlers import metrics as module

    streams = []
    opened = module.MetricsStreamHandler.open

    def open_and_keep(handler, *args, **kwargs):
        streams.append(handler)
        opened(handler, *args, **kwargs)

    monkeypatch.setattr(module.MetricsStreamHandler, "open", open_and_keep)
    socket = await jp_ws_fetch("learnpulse", "api", "metrics", "stream", headers=as_user("bob"))
    (stream,) = streams
    big = stream.with_settings
    monkeypatch.setattr(stream, "with_settings", lambda sample: {**big(sample), "pad": "x" * 2**20})
    for _ in range(40):  # 40 MB of samples: more than the sockets' buffers
        await asyncio.to_thread(stream.sampler.sample_now)
    await asyncio.sleep(0.5)
    connection = stream.ws_connection.stream
    buffered = connection._total_write_index - connection._total_write_done_index
    assert buffered < 4 * 2**20
    socket.close()
