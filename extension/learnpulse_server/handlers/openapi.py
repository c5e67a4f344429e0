"""Routes of the openapi service (being built)."""

handlers: list = []
