"""Routes of the training service (being built)."""

handlers: list = []
