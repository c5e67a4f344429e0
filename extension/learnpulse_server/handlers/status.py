"""GET learnpulse/api/status: version, store backend and counts, and who is asking."""

from __future__ import annotations

from jupyter_server.auth.decorator import authorized
from tornado import web

from learnpulse import __version__
from learnpulse_server.handlers.base import API_PREFIX, LearnPulseHandler


class StatusHandler(LearnPulseHandler):
    auth_resource = "learnpulse:status"

    @web.authenticated
    @authorized
    async def get(self) -> None:
        status = await self.off_loop(self.store.status)
        self.write_json(
            {
                "version": __version__,
                "store": {
                    "backend": status["backend"],
                    "schema_revision": status["schema_revision"],
                },
                "counts": status["counts"],
                # who learnpulse takes the caller for: with jupyter_server's own identity
                # provider, not the random name its api/me gives each token request
                "user": {"learner_id": self.learner_id, "instructor": self.is_instructor},
            }
        )


handlers = [(rf"{API_PREFIX}/status", StatusHandler)]
