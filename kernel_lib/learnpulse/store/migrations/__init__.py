"""Alembic migrations of the store's schema (run by :func:`learnpulse.store.migrate.upgrade`)."""
