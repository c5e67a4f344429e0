"""How a dashboard finds the learnpulse server it should read through.

A dashboard served by Jupyter (Voila, Panel's Jupyter preview) runs in a kernel that the
server started. It looks for the server's API, in order:

1. ``$LEARNPULSE_API_URL`` (the server's URL with its base_url, e.g.
   ``http://localhost:8888/``) and ``$LEARNPULSE_API_TOKEN``: set by whoever launches the
   dashboard (``learnpulse dashboard``, a deployment);
2. on JupyterHub, the single-user server's own URL (``$JUPYTERHUB_SERVICE_URL``) and the
   user's API token (``$JUPYTERHUB_API_TOKEN``), which the hub gives every user server;
3. the runtime file ``jpserver-<pid>.json`` of the parent server (``$JPY_PARENT_PID``, which
   jupyter_client sets in every kernel it starts): the server's URL and token.

The token identifies the user to the server, so the dashboard sees what that user may see.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

#: Environment variables naming the server URL (with base_url) and the token to use.
API_URL_ENV = "LEARNPULSE_API_URL"
API_TOKEN_ENV = "LEARNPULSE_API_TOKEN"
#: The path of the learnpulse API under a server's base URL.
API_PATH = "learnpulse/api/"


@dataclass(frozen=True)
class ServerInfo:
    """A Jupyter server: ``url`` ends with its base_url and "/"; ``token`` may be empty."""

    url: str
    token: str
    found_by: str

    @property
    def api_url(self) -> str:
        """``{url}learnpulse/api/``."""
        return self.url + API_PATH


def _slash(url: str) -> str:
    return url if url.endswith("/") else url + "/"


def _from_env(env: dict[str, str]) -> ServerInfo | None:
    if env.get(API_URL_ENV):
        return ServerInfo(_slash(env[API_URL_ENV]), env.get(API_TOKEN_ENV, ""), API_URL_ENV)
    return None


def _from_hub(env: dict[str, str]) -> ServerInfo | None:
    url, token = env.get("JUPYTERHUB_SERVICE_URL"), env.get("JUPYTERHUB_API_TOKEN")
    if url and token:
        # The service URL may name the bind address (0.0.0.0): connect over loopback.
        url = url.replace("://0.0.0.0", "://127.0.0.1")
        return ServerInfo(_slash(url), token, "JUPYTERHUB_SERVICE_URL")
    return None


def _runtime_dir() -> Path:
    from jupyter_core.paths import jupyter_runtime_dir

    return Path(jupyter_runtime_dir())


def _from_parent(env: dict[str, str]) -> ServerInfo | None:
    pid = env.get("JPY_PARENT_PID")
    if not pid:
        return None
    info_file = _runtime_dir() / f"jpserver-{pid}.json"
    if not info_file.is_file():
        return None
    info = json.loads(info_file.read_text())
    url = info["url"].replace("://0.0.0.0", "://127.0.0.1")
    return ServerInfo(_slash(url), info.get("token", ""), str(info_file))


def find_server(env: dict[str, str] | None = None) -> ServerInfo | None:
    """The server this process should read through, or None when it runs outside one."""
    env = dict(os.environ if env is None else env)
    for finder in (_from_env, _from_hub, _from_parent):
        found = finder(env)
        if found is not None:
            return found
    return None
