"""What every learnpulse handler shares: JSON API behaviour, the store, and who is asking."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any, TypeVar

from jupyter_server.base.handlers import APIHandler
from jupyter_server.extension.handler import ExtensionHandlerMixin
from tornado import web

from learnpulse.store import EventStore

T = TypeVar("T")
API_PREFIX = "/learnpulse/api"


class LearnPulseHandler(ExtensionHandlerMixin, APIHandler):
    """Base of the API handlers. Subclasses set ``auth_resource = "learnpulse:<service>"``.

    Identity always comes from the server's authenticated user, never from the request:
    :attr:`learner_id` is the user's name, :attr:`is_instructor` follows the app's
    ``instructors`` / ``instructor_group`` / ``owner_is_instructor`` settings.
    """

    @property
    def store(self) -> EventStore:
        return self.settings["learnpulse_store"]

    @property
    def learner_id(self) -> str:
        """The authenticated user's learner id (their user name)."""
        return self.current_user.username

    @property
    def is_instructor(self) -> bool:
        app = self.extensionapp
        user = self.current_user
        if user.username in app.instructors:
            return True
        groups = (getattr(user, "hub_user", None) or {}).get("groups", [])
        if app.instructor_group and app.instructor_group in groups:
            return True
        return app.owner_is_instructor and not app.instructors and not app.instructor_group

    def visible_learners(self, requested: list[str] | None) -> list[str] | None:
        """The learners this user may see among ``requested`` (None = all of the course).

        Instructors get what they asked for; a student always gets exactly themself,
        whatever the query asked.
        """
        if self.is_instructor:
            return requested
        return [self.learner_id]

    def require_instructor(self) -> None:
        if not self.is_instructor:
            raise web.HTTPError(403, "only instructors may do this")

    def require_learner(self, learner_id: str) -> None:
        """403 unless the user is an instructor or ``learner_id`` is themself."""
        if not self.is_instructor and learner_id != self.learner_id:
            raise web.HTTPError(403, "students may only see their own data")

    async def off_loop(self, function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run blocking store or model work in a thread, never on the server's event loop."""
        return await asyncio.to_thread(function, *args, **kwargs)

    def write_json(self, body: Any, status: int = 200) -> None:
        self.set_status(status)
        self.finish(json.dumps(body, default=str))
