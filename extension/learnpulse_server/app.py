"""The learnpulse server extension application; every option is a documented trait."""

from __future__ import annotations

from jupyter_server.extension.application import ExtensionApp
from traitlets import Unicode

from learnpulse.store import EventStore
from learnpulse_server.handlers import status


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

    def initialize_settings(self) -> None:
        self.store = EventStore(self.db_url)
        self.settings["learnpulse_store"] = self.store
        self.log.info("learnpulse store: %r", self.store)

    def initialize_handlers(self) -> None:
        self.handlers.extend(status.handlers)

    async def stop_extension(self) -> None:
        store = getattr(self, "store", None)
        if store is not None:
            store.close()
