"""learnpulse: notebook-native learning analytics and tutoring for Jupyter.

This package runs inside kernels and any Python process; it never imports web code.
"""

__version__ = "0.1.0"

from learnpulse.collectors.tracking import track
from learnpulse.collectors.training import track_training
from learnpulse.events import (
    EVENT_KINDS,
    EventValidationError,
    validate_event,
    validate_events,
)

__all__ = [
    "EVENT_KINDS",
    "EventValidationError",
    "__version__",
    "track",
    "track_training",
    "validate_event",
    "validate_events",
]


#: Entry-point group of collector plugins: a module (or object) with
#: ``load_ipython_extension(ipython)`` and optionally ``unload_ipython_extension(ipython)``,
#: e.g. ``[project.entry-points."learnpulse.collectors"] clicks = "my_pkg.clicks"``.
COLLECTOR_GROUP = "learnpulse.collectors"
#: What ``%load_ext learnpulse`` installs before the collector plugins.
_BUILT_IN_PARTS = ("learnpulse.magics", "learnpulse.collectors.notebook")


def _kernel_parts():
    """(name, loader) of each part ``%load_ext learnpulse`` installs: the built-in ones, then
    the collector plugins of :data:`COLLECTOR_GROUP`."""
    import importlib
    from importlib.metadata import entry_points

    for module in _BUILT_IN_PARTS:
        yield module, lambda module=module: importlib.import_module(module)
    for point in entry_points(group=COLLECTOR_GROUP):
        yield f"collector plugin {point.name!r} ({point.value})", point.load


def load_ipython_extension(ipython) -> None:
    """``%load_ext learnpulse``: the tutor magics, the notebook-activity collector and the
    collector plugins (:data:`COLLECTOR_GROUP`).

    Each part installs itself; a failure in one is reported as a warning naming it and never
    raises into the student's notebook.
    """
    import warnings

    for name, load in _kernel_parts():
        try:
            load().load_ipython_extension(ipython)
        except Exception as error:  # the notebook must keep working without it
            warnings.warn(f"learnpulse: {name} not loaded: {error}", stacklevel=2)


def unload_ipython_extension(ipython) -> None:
    import contextlib

    for _, load in _kernel_parts():
        with contextlib.suppress(Exception):  # unloading is best effort; it may have none
            load().unload_ipython_extension(ipython)
