"""GET learnpulse/api/learners/<id>/export and DELETE learnpulse/api/learners/<id> (erasure).

Instructors only: a student gets a 403 even for their own id (an export or an erasure is a
request an instructor handles, e.g. under GDPR articles 15 and 17).
"""

from __future__ import annotations

from jupyter_server.auth.decorator import authorized
from tornado import web

from learnpulse.xapi import events_to_statements
from learnpulse_server.handlers.base import API_PREFIX, LearnPulseHandler
from learnpulse_server.handlers.events import events_json

#: Formats of ``GET learners/<id>/export``: learnpulse event records, or xAPI statements.
EXPORT_FORMATS = ("json", "xapi")


class LearnerExportHandler(LearnPulseHandler):
    auth_resource = "learnpulse:learners"

    @web.authenticated
    @authorized
    async def get(self, learner_id: str) -> None:
        self.require_instructor()
        export_format = self.query_choice("format", EXPORT_FORMATS, "json")
        frame = await self.off_loop(self.store.query, learners=learner_id)
        if frame.is_empty():
            raise web.HTTPError(404, "%s", f"no events of learner {learner_id!r}")
        if export_format == "xapi":
            statements = await self.off_loop(events_to_statements, frame)
            self.write_json({"learner_id": learner_id, "statements": statements})
        else:
            self.write_json({"learner_id": learner_id, "events": events_json(frame)})


class LearnerHandler(LearnPulseHandler):
    auth_resource = "learnpulse:learners"

    @web.authenticated
    @authorized
    async def delete(self, learner_id: str) -> None:
        self.require_instructor()
        course = self.query_str("course")
        deleted = await self.off_loop(self.store.forget, learner_id, course=course)
        self.write_json({"learner_id": learner_id, "deleted": deleted})


handlers = [
    (rf"{API_PREFIX}/learners/([^/]+)/export", LearnerExportHandler),
    (rf"{API_PREFIX}/learners/([^/]+)", LearnerHandler),
]
