"""Routes of the learners service (being built)."""

handlers: list = []
