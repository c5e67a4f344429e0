"""Events delivered through a real Jupyter server's POST learnpulse/api/events."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from learnpulse.collectors import EventSink, HttpDestination, SinkConfig, make_event
from learnpulse.collectors.destinations import default_destination
from tests.extension.conftest import jp_server_config, learnpulse_app, lp_db_url  # noqa: F401

FAST = SinkConfig(gather_s=0.02, retry_s=0.1, exit_timeout_s=5.0)


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _server_url(http_server_port: tuple, base_url: str) -> str:
    """The pytest-jupyter server's address (its socket is bound on the loopback interface)."""
    return f"http://127.0.0.1:{http_server_port[-1]}{base_url}"


async def test_server_unreachable_then_reachable_delivers_each_event_once(
    jp_serverapp, http_server, http_server_port, jp_base_url, tmp_path
):
    destination = HttpDestination(f"http://127.0.0.1:{_closed_port()}/", token="token-ada")
    sink = EventSink(destination, tmp_path / "spool", FAST)
    events = [make_event("resource_view", learner_id="ada", item_id=f"r{i}") for i in range(12)]
    for event in events[:8]:
        sink.put(event)
    assert await asyncio.to_thread(sink.flush, 10)
    assert sink.stats()["pending_in_spool"] == 8

    destination.url = _server_url(http_server_port, jp_base_url) + "learnpulse/api/events"
    for event in events[8:]:
        sink.put(event)
    delivered = await asyncio.to_thread(sink.flush, 10, include_spool=True)
    assert delivered, (sink.stats(), destination.url)
    await asyncio.to_thread(sink.close)
    stored = learnpulse_app(jp_serverapp).store.query()
    assert sorted(stored["id"]) == sorted(e["id"] for e in events)


async def test_a_refused_batch_is_kept_aside_not_retried(
    jp_serverapp, http_server, http_server_port, jp_base_url, tmp_path
):
    url = _server_url(http_server_port, jp_base_url)
    sink = EventSink(HttpDestination(url, token="token-ada"), tmp_path / "spool", FAST)
    sink.put(make_event("resource_view", learner_id="bob", item_id="r"))  # not ada's: 403
    assert await asyncio.to_thread(sink.flush, 10, include_spool=True)
    await asyncio.to_thread(sink.close)
    assert len(list((tmp_path / "spool").glob("*.rejected"))) == 1
    assert (sink.stats()["delivered"], sink.stats()["rejected"]) == (0, 1)
    assert learnpulse_app(jp_serverapp).store.query().is_empty()


async def test_a_token_the_server_refuses_keeps_the_batch_for_later(
    jp_serverapp, http_server, http_server_port, jp_base_url, tmp_path
):
    # Jupyter's 403 for an unknown token set every event aside as rejected, for good
    url = _server_url(http_server_port, jp_base_url)
    sink = EventSink(HttpDestination(url, token="expired"), tmp_path / "spool", FAST)
    sink.put(make_event("resource_view", learner_id="ada", item_id="r"))
    assert await asyncio.to_thread(sink.flush, 10, include_spool=True)
    await asyncio.to_thread(sink.close)
    stats = sink.stats()
    assert (stats["delivered"], stats["rejected"], stats["pending_in_spool"]) == (0, 0, 1)


async def test_a_batch_over_the_server_limit_goes_in_parts(
    jp_serverapp, http_server, http_server_port, jp_base_url, tmp_path
):
    # a 413 set the valid events aside as rejected when the server took fewer at once
    learnpulse_app(jp_serverapp).max_batch_events = 3
    url = _server_url(http_server_port, jp_base_url)
    sink = EventSink(HttpDestination(url, token="token-ada"), tmp_path / "spool", FAST)
    events = [make_event("resource_view", learner_id="ada", item_id=f"r{i}") for i in range(10)]
    for event in events:
        sink.put(event)
    assert await asyncio.to_thread(sink.flush, 10, include_spool=True)
    await asyncio.to_thread(sink.close)
    assert sink.stats()["rejected"] == 0
    stored = learnpulse_app(jp_serverapp).store.query()
    assert sorted(stored["id"]) == sorted(e["id"] for e in events)


def test_the_server_url_in_the_environment_selects_http(monkeypatch):
    monkeypatch.setenv("LEARNPULSE_SERVER_URL", "http://127.0.0.1:8888/user/ada")
    monkeypatch.delenv("LEARNPULSE_TOKEN", raising=False)
    monkeypatch.setenv("JUPYTERHUB_API_TOKEN", "hub-token")
    destination = default_destination()
    assert isinstance(destination, HttpDestination)
    assert destination.url == "http://127.0.0.1:8888/user/ada/learnpulse/api/events"
    assert destination.token == "hub-token"
    monkeypatch.delenv("LEARNPULSE_SERVER_URL")
    assert not isinstance(default_destination(), HttpDestination)


class _NotTheApi(BaseHTTPRequestHandler):
    """Answers every request with ``(status, headers, body)`` of the server's ``answer``."""

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.do_GET()

    def do_GET(self) -> None:
        status, headers, body = self.server.answer  # type: ignore[attr-defined]
        self.send_response(status)
        for name, value in {**headers, "Content-Length": str(len(body))}.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


@contextlib.contextmanager
def _answering(status: int, body: bytes = b"", headers: dict | None = None):
    server = ThreadingHTTPServer(("127.0.0.1", 0), _NotTheApi)
    server.answer = (status, headers or {}, body)  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/"
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize(
    ("status", "body", "headers"),
    [
        (301, b"", {"Location": "/elsewhere"}),  # http -> https: re-sent as a GET, 200
        (200, b"<html>Sign in</html>", {}),  # a proxy's or a login page
        (200, b'{"events": []}', {}),  # JSON, but not a receipt
        (401, b"", {}),  # no valid token
        (404, b"<html>Not Found</html>", {}),  # a wrong URL, the extension not loaded
    ],
)
def test_answers_that_are_not_a_receipt_keep_the_batch_for_later(tmp_path, status, body, headers):
    """A redirect was followed as a GET and a 200 page counted as delivered (the events were
    lost); a 401 or 404 set the valid events aside as rejected for good."""
    with _answering(status, body, headers) as url:
        sink = EventSink(HttpDestination(url, token="token-ada"), tmp_path / "spool", FAST)
        sink.put(make_event("resource_view", learner_id="ada", item_id="r"))
        assert sink.flush(10)
        sink.close()
    stats = sink.stats()
    assert (stats["delivered"], stats["rejected"], stats["pending_in_spool"]) == (0, 0, 1)


pytestmark = pytest.mark.filterwarnings("ignore::ResourceWarning")
