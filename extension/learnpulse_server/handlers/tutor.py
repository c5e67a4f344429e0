"""Routes of the tutor service (being built)."""

handlers: list = []
