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


def load_ipython_extension(ipython) -> None:
    """``%load_ext learnpulse``: the tutor magics and the notebook-activity collector.

    Each part installs itself; a failure in one is reported as a warning and never raises
    into the student's notebook.
    """
    import importlib
    import warnings

    for module in ("learnpulse.magics", "learnpulse.collectors.notebook"):
        try:
            importlib.import_module(module).load_ipython_extension(ipython)
        except Exception as error:  # the notebook must keep working without learnpulse
            warnings.warn(f"learnpulse: {module} not loaded: {error}", stacklevel=2)


def unload_ipython_extension(ipython) -> None:
    import contextlib
    import importlib

    for module in ("learnpulse.magics", "learnpulse.collectors.notebook"):
        with contextlib.suppress(Exception):  # unloading is best effort
            importlib.import_module(module).unload_ipython_extension(ipython)
