"""Routes of the analytics service (being built)."""

handlers: list = []
