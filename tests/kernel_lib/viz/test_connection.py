"""How a dashboard finds its server: explicit settings, JupyterHub, the parent server."""

from __future__ import annotations

import json

from learnpulse.viz.connection import find_server


def test_explicit_settings_win():
    server = find_server({
        "LEARNPULSE_API_URL": "http://example:8888/base", "LEARNPULSE_API_TOKEN": "t",
        "JUPYTERHUB_SERVICE_URL": "http://0.0.0.0:9999/user/ada/", "JUPYTERHUB_API_TOKEN": "h",
    })  # fmt: skip
    assert server.api_url == "http://example:8888/base/learnpulse/api/"
    assert server.token == "t"


def test_a_hub_server_is_reached_over_loopback_with_the_users_token():
    server = find_server({
        "JUPYTERHUB_SERVICE_URL": "http://0.0.0.0:9999/user/ada/", "JUPYTERHUB_API_TOKEN": "h",
    })  # fmt: skip
    assert server.url == "http://127.0.0.1:9999/user/ada/" and server.token == "h"


def test_a_kernel_finds_the_server_that_started_it(tmp_path, monkeypatch):
    monkeypatch.setenv("JUPYTER_RUNTIME_DIR", str(tmp_path))
    info = {"url": "http://localhost:8123/lab-base/", "token": "secret", "pid": 4242}
    (tmp_path / "jpserver-4242.json").write_text(json.dumps(info))
    server = find_server({"JPY_PARENT_PID": "4242"})
    assert server.url == "http://localhost:8123/lab-base/" and server.token == "secret"
    assert find_server({"JPY_PARENT_PID": "4243"}) is None
    assert find_server({}) is None
