"""learnpulse: notebook-native learning analytics and tutoring for Jupyter.

This package runs inside kernels and any Python process; it never imports web code.
"""

__version__ = "0.1.0"

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
    "validate_event",
    "validate_events",
]
