"""Tutor fixtures: the demo course, a course with instructor policies, and a real local HTTP
server speaking the OpenAI chat completions API (streamed), scripted per test."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from learnpulse.course import Course, demo_course

SOLUTION = (
    "def mean(values):\n    total = 0\n    for v in values:\n        total += v\n"
    "    return total / len(values)\n"
)


def _exercise(ex_id: str, **policy) -> dict:
    return {
        "id": ex_id,
        "title": f"Mean ({ex_id})",
        "prompt": "Write `mean(values)`: the average of a non-empty list, with a loop.",
        "skills": ["loops"],
        "difficulty": 0.4,
        "type": "code",
        "function": "mean",
        "tests": [{"args": [[1, 2, 3]], "expected": 2.0}],
        "hints": ["Add the values up first.", "Divide the total by how many there are."],
        "explanation": "Sum with an accumulator, then divide by len(values).",
        "solution": SOLUTION,
        "policy": policy,
    }


@pytest.fixture(scope="session")
def course() -> Course:
    return demo_course()


@pytest.fixture(scope="session")
def policy_course() -> Course:
    """Exercises with every policy: open, one hint at most, no hints, tutor off, code
    allowed."""
    data = {
        "id": "policy-course",
        "title": "Policies",
        "skills": [
            {
                "id": s.id,
                "name": s.name,
                "prerequisites": list(s.prerequisites),
                "material": s.material,
            }
            for s in demo_course().skills.values()
        ],
        "exercises": [
            _exercise("open"),
            _exercise("one-hint", max_hint_level=1),
            _exercise("no-hints", max_hint_level=0),
            _exercise("closed", tutor_enabled=False),
            _exercise("code-ok", show_code=True),
        ],
    }
    return Course.from_dict(data)


class FakeChatAPI:
    """Script of the fake upstream: ``mode`` and ``text`` (``malformed``: the bytes sent in
    mode "malformed"); ``requests`` records each call."""

    def __init__(self) -> None:
        self.mode = "stream"
        self.text = "Hello from the model."
        self.malformed = b"data: {not json}\n\n"
        self.requests: list[dict] = []
        self.url = ""


def _handler(api: FakeChatAPI) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args) -> None:  # keep test output clean
            pass

        def do_POST(self) -> None:
            length = int(self.headers["Content-Length"])
            body = json.loads(self.rfile.read(length))
            api.requests.append({"path": self.path, "headers": dict(self.headers), "body": body})
            if api.mode == "error":
                self.send_response(500)
                self.end_headers()
                self.wfile.write(b'{"error": "model crashed"}')
                return
            if api.mode == "slow":
                time.sleep(3)
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.end_headers()
            if api.mode == "malformed":
                self.wfile.write(api.malformed)
                return
            words = api.text.split(" ")
            for index, word in enumerate(words):
                if api.mode == "cut" and index == len(words) // 2:
                    self.wfile.write(b"data: {broken")
                    self.wfile.flush()
                    return
                piece = word + (" " if index < len(words) - 1 else "")
                event = {"choices": [{"index": 0, "delta": {"content": piece}}]}
                self.wfile.write(f"data: {json.dumps(event)}\n\n".encode())
                self.wfile.flush()
            self.wfile.write(b"data: [DONE]\n\n")

    return Handler


@pytest.fixture
def chat_api():
    """A real HTTP server on localhost speaking the OpenAI chat completions stream."""
    api = FakeChatAPI()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(api))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    api.url = f"http://127.0.0.1:{server.server_address[1]}/v1"
    try:
        yield api
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def lite_store(tmp_path):
    """A fresh SQLite store (the tutor's logging is tested on both backends in test_tutor_ask)."""
    from learnpulse.store import EventStore

    with EventStore(f"sqlite:///{tmp_path / 'tutor.db'}") as event_store:
        yield event_store


@pytest.fixture
def agent_plugin(tmp_path, monkeypatch):
    """``install(source, entry_points)``: a module ``lp_plugin`` with ``source`` and the
    ``learnpulse.agents`` entry points (``"name = lp_plugin:Class"`` lines) that ``pip install``
    would register, on ``sys.path`` for this test; agents are discovered again after it."""
    import importlib
    import sys

    from learnpulse.agents import ENTRY_POINT_GROUP, available_agents
    from tests.conftest import write_plugin

    def install(source: str, points: str) -> None:
        write_plugin(tmp_path, "lp_plugin", source, ENTRY_POINT_GROUP, points)
        monkeypatch.syspath_prepend(str(tmp_path))
        importlib.invalidate_caches()
        available_agents.cache_clear()

    yield install
    sys.modules.pop("lp_plugin", None)
    available_agents.cache_clear()
