"""GET learnpulse/api/openapi.json: the REST contract (``openapi.yaml``) as JSON."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import yaml
from jupyter_server.auth.decorator import authorized
from jupyter_server.utils import url_path_join
from tornado import web

from learnpulse_server.handlers.base import API_PREFIX, LearnPulseHandler

#: The contract every route implements (tested against the registered handlers).
OPENAPI_FILE = Path(__file__).resolve().parents[1] / "openapi.yaml"


@cache
def openapi_document() -> dict[str, Any]:
    """The parsed ``openapi.yaml`` (paths relative to ``{base_url}learnpulse/api``)."""
    return yaml.safe_load(OPENAPI_FILE.read_text("utf-8"))


class OpenAPIHandler(LearnPulseHandler):
    auth_resource = "learnpulse:openapi"

    @web.authenticated
    @authorized
    async def get(self) -> None:
        server = {"url": url_path_join(self.base_url, API_PREFIX)}
        self.write_json({**openapi_document(), "servers": [server]})


handlers = [(rf"{API_PREFIX}/openapi\.json", OpenAPIHandler)]
