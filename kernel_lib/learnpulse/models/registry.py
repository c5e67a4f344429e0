"""Model plugins: every model, built in or third-party, registers in one entry-point group."""

from __future__ import annotations

from importlib.metadata import EntryPoint, entry_points

#: Entry-point group a package uses to add a model, e.g. in its pyproject.toml:
#: ``[project.entry-points."learnpulse.models"] my-model = "my_pkg.models:MyModel"``.
ENTRY_POINT_GROUP = "learnpulse.models"


def available_models() -> dict[str, EntryPoint]:
    """Registered model names -> entry points (not yet imported)."""
    return {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP)}


def load_model(name: str) -> type:
    """The model class registered as ``name``.

    Raises
    ------
    KeyError
        If no model has that name; the message lists the registered ones.
    """
    models = available_models()
    if name not in models:
        known = ", ".join(sorted(models)) or "none"
        raise KeyError(f"no model registered as {name!r} in {ENTRY_POINT_GROUP!r}; known: {known}")
    return models[name].load()
