"""Model plugins: every model, built in or third-party, registers in one entry-point group."""

from __future__ import annotations

import warnings
from importlib.metadata import EntryPoint, entry_points

#: Entry-point group a package uses to add a model, e.g. in its pyproject.toml:
#: ``[project.entry-points."learnpulse.models"] my-model = "my_pkg.models:MyModel"``.
ENTRY_POINT_GROUP = "learnpulse.models"
#: The distribution whose entry points are the built-in models.
BUILTIN_DISTRIBUTION = "learnpulse"


def available_models() -> dict[str, EntryPoint]:
    """Registered model names -> entry points (not yet imported).

    A name is never taken over: the built-in models keep theirs, and an entry point giving a
    name already registered is left out with a warning naming both.
    """
    points = sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda ep: not _built_in(ep))
    models: dict[str, EntryPoint] = {}
    for point in points:
        taken = models.setdefault(point.name, point)
        if taken.value != point.value:
            warnings.warn(
                f"learnpulse: model {point.name!r} of {ENTRY_POINT_GROUP!r} ({point.value}) "
                f"left out: the name is taken by {taken.value}",
                stacklevel=2,
            )
    return models


def _built_in(point: EntryPoint) -> bool:
    return point.dist is not None and point.dist.name == BUILTIN_DISTRIBUTION


def load_model(name: str) -> type:
    """The model class registered as ``name``.

    Raises
    ------
    KeyError
        If no model has that name; the message lists the registered ones.
    ImportError
        If the plugin cannot be imported, naming the model and its entry point.
    """
    models = available_models()
    if name not in models:
        known = ", ".join(sorted(models)) or "none"
        raise KeyError(f"no model registered as {name!r} in {ENTRY_POINT_GROUP!r}; known: {known}")
    try:
        return models[name].load()
    except Exception as error:  # the plugin's own error said nothing of which model it was
        raise ImportError(
            f"model {name!r} ({models[name].value}) could not be loaded: "
            f"{type(error).__name__}: {error}"
        ) from error
