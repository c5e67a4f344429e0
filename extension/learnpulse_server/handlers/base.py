"""What every learnpulse handler shares: JSON API behaviour and access to the store."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any, TypeVar

from jupyter_server.base.handlers import APIHandler
from jupyter_server.extension.handler import ExtensionHandlerMixin

from learnpulse.store import EventStore

T = TypeVar("T")
API_PREFIX = "/learnpulse/api"


class LearnPulseHandler(ExtensionHandlerMixin, APIHandler):
    """Base of the API handlers. Subclasses set ``auth_resource = "learnpulse:<service>"``."""

    @property
    def store(self) -> EventStore:
        return self.settings["learnpulse_store"]

    async def off_loop(self, function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run blocking store or model work in a thread, never on the server's event loop."""
        return await asyncio.to_thread(function, *args, **kwargs)

    def write_json(self, body: Any, status: int = 200) -> None:
        self.set_status(status)
        self.finish(json.dumps(body, default=str))
