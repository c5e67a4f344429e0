"""The learnpulse server extension application; every option is a documented trait."""

from __future__ import annotations

import importlib

from jupyter_server.extension.application import ExtensionApp
from traitlets import Bool, Integer, List, Unicode

from learnpulse.store import EventStore

# One module per service under learnpulse_server.handlers; each exports ``handlers``.
ROUTE_MODULES = (
    "status",
    "events",
    "learners",
    "metrics",
    "training",
    "analytics",
    "tutor",
    "openapi",
)


class LearnPulseApp(ExtensionApp):
    """Serves learnpulse's REST API under ``{base_url}learnpulse/api/``."""

    name = "learnpulse_server"
    description = "Learning analytics and tutoring for Jupyter"
    load_other_extensions = True

    db_url = Unicode(
        None,
        allow_none=True,
        config=True,
        help=(
            "SQLAlchemy URL of the learnpulse store, e.g. sqlite:////srv/learnpulse.db or "
            "postgresql://learnpulse@db/learnpulse. Default: $LEARNPULSE_DB_URL, else a SQLite "
            "file under the Jupyter data directory."
        ),
    )

    # -- who may see what --------------------------------------------------------------------
    instructors = List(
        Unicode(),
        config=True,
        help=(
            "User names that are instructors: they see the whole course and may export or "
            "erase a learner. Everyone else is a student and sees only their own learner id."
        ),
    )
    instructor_group = Unicode(
        "",
        config=True,
        help="A JupyterHub group whose members are instructors (in addition to `instructors`).",
    )
    owner_is_instructor = Bool(
        True,
        config=True,
        help=(
            "On a single-user server with no `instructors` and no `instructor_group` "
            "configured, treat the server's (only) user as the instructor. Turn off to make "
            "every user a student unless named."
        ),
    )

    # -- events --------------------------------------------------------------------------------
    max_batch_events = Integer(
        10_000,
        config=True,
        help="Largest number of events accepted in one POST events batch (413 above it).",
    )

    def initialize_settings(self) -> None:
        self.store = EventStore(self.db_url)
        self.settings["learnpulse_store"] = self.store
        self.log.info("learnpulse store: %r", self.store)

    def initialize_handlers(self) -> None:
        for module in ROUTE_MODULES:
            routes = importlib.import_module(f"learnpulse_server.handlers.{module}").handlers
            self.handlers.extend(routes)

    async def stop_extension(self) -> None:
        store = getattr(self, "store", None)
        if store is not None:
            store.close()
