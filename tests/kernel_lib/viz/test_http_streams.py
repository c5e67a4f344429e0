"""The HTTP source's live streams against a real server process that dies and comes back."""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Callable

import pytest

from learnpulse.store import EventStore
from learnpulse.viz.connection import ServerInfo
from learnpulse.viz.http import STREAM_CLOSE_WAIT_S, ApiError, HttpSource
from tests.conftest import make_event
from tests.extension.live_server import LIVE_TOKENS, LiveServer

pytestmark = pytest.mark.slow


def _until(condition: Callable[[], bool], seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.2)


def _raises(source: HttpSource) -> bool:
    try:
        source.version()
    except ApiError:
        return True
    return False


def _post(server: LiveServer, offset_s: int) -> None:
    body = json.dumps({"events": [make_event(offset_s=offset_s)]}).encode()
    request = urllib.request.Request(
        f"{server.url}/events", data=body, headers=server.headers(), method="POST"
    )
    urllib.request.urlopen(request, timeout=10).close()


@pytest.fixture
def server(tmp_path):
    db_url = f"sqlite:///{tmp_path / 'streams.db'}"
    with EventStore(db_url) as store:
        store.append([make_event()])
    live = LiveServer(tmp_path / "server", db_url)
    with live:
        yield live


def _source(server: LiveServer, token: str) -> HttpSource:
    url = f"http://127.0.0.1:{server.port}/"
    return HttpSource(ServerInfo(url, token, "test"), live=True)


def test_an_outage_is_seen_and_the_return_counts_as_news(server):
    """While the server was down, a stream-fed version() went on answering (the stream
    thread was alive, retrying), so a live dashboard never said the server was gone; after
    the return, the events stored meanwhile moved nothing."""
    source = _source(server, LIVE_TOKENS["teacher"])
    try:
        _until(source._streams_open)
        first = source.version()
        _post(server, offset_s=1)
        _until(lambda: source.version() > first)
        server.kill()
        _until(lambda: _raises(source))
        with pytest.raises(ApiError, match="server unreachable"):
            source.version()
        down = source._version
        server.start()
        _until(source._streams_open)
        assert source.version() > down
    finally:
        source.close()


def test_a_refused_token_is_reported_not_streamed(server):
    source = _source(server, "not-a-token")
    try:
        time.sleep(1)
        assert not source._streams_open()
        with pytest.raises(ApiError, match=r"HTTP 40[13]"):
            source.version()
    finally:
        source.close()


def test_close_ends_the_stream_threads_at_once(server):
    """A closed source's threads used to sit in websocket-client's 10 s read wait, holding
    their connections open, after every dashboard session that closed."""
    source = _source(server, LIVE_TOKENS["teacher"])
    _until(source._streams_open)
    started = time.monotonic()
    source.close()
    for thread in source._streams:
        thread.join(timeout=10)
    assert not any(thread.is_alive() for thread in source._streams)
    assert time.monotonic() - started < STREAM_CLOSE_WAIT_S + 1.0
