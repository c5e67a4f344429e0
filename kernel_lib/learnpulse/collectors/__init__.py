"""Collectors: system metrics, training runs, notebook activity and learning events.

Nothing here imports web code; the server extension wires these to HTTP.
"""

from learnpulse.collectors.destinations import HttpDestination, StoreDestination
from learnpulse.collectors.sink import EventSink, SinkConfig
from learnpulse.collectors.tracking import configure, default_sink, make_event, track

__all__ = [
    "EventSink",
    "HttpDestination",
    "SinkConfig",
    "StoreDestination",
    "configure",
    "default_sink",
    "make_event",
    "track",
]
