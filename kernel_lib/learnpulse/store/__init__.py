"""The event store: one facade (:class:`EventStore`) over SQLite or PostgreSQL."""

from learnpulse.store.engine import DB_URL_ENV, default_db_url
from learnpulse.store.event_store import AppendResult, EventStore
from learnpulse.store.migrate import SchemaTooNewError

__all__ = ["DB_URL_ENV", "AppendResult", "EventStore", "SchemaTooNewError", "default_db_url"]
