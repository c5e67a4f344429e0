"""Routes of the metrics service (being built)."""

handlers: list = []
