"""Routes of the events service (being built)."""

handlers: list = []
