"""The REST contract (openapi.yaml) and the registered routes, side by side, for the tests."""

from __future__ import annotations

import importlib
import re
from dataclasses import dataclass
from typing import Any

from tornado import web
from tornado.websocket import WebSocketHandler

from learnpulse_server.app import ROUTE_MODULES
from learnpulse_server.handlers.base import API_PREFIX
from learnpulse_server.handlers.openapi import openapi_document

HTTP_METHODS = ("get", "post", "put", "patch", "delete")
ACCESS_LEVELS = ("any", "self", "instructor")
_GROUP = re.compile(r"\((?:\?P<\w+>)?[^)]*\)")
_TEMPLATE = re.compile(r"\{[^}/]+\}")


@dataclass(frozen=True)
class Operation:
    """One documented operation: path template, method and its OpenAPI object."""

    path: str
    method: str
    spec: dict[str, Any]

    @property
    def access(self) -> str | None:
        return self.spec.get("x-learnpulse-access")

    @property
    def websocket(self) -> bool:
        return bool(self.spec.get("x-learnpulse-websocket"))

    @property
    def learner(self) -> dict[str, str] | None:
        return self.spec.get("x-learnpulse-learner")

    @property
    def success(self) -> int:
        return min(int(code) for code in self.spec["responses"] if code.startswith(("1", "2")))

    def __str__(self) -> str:
        return f"{self.method.upper()} {self.path}"


def operations() -> list[Operation]:
    """Every operation of openapi.yaml."""
    return [
        Operation(path, method, spec)
        for path, item in openapi_document()["paths"].items()
        for method, spec in item.items()
        if method in HTTP_METHODS
    ]


def route_shape(path: str) -> str:
    """A route regex or an OpenAPI path template as one comparable shape, ``/a/{}/b``."""
    path = path.removeprefix(API_PREFIX)
    return _TEMPLATE.sub("{}", _GROUP.sub("{}", path)).replace("\\.", ".").rstrip("$")


def registered_routes() -> dict[str, type[web.RequestHandler]]:
    """Route shape -> handler class of every route the app registers (``ROUTE_MODULES``)."""
    routes = {}
    for module in ROUTE_MODULES:
        for pattern, handler in importlib.import_module(
            f"learnpulse_server.handlers.{module}"
        ).handlers:
            routes[route_shape(pattern)] = handler
    return routes


def implemented_methods(handler: type[web.RequestHandler]) -> set[str]:
    """HTTP methods a handler class implements itself (a WebSocket handler: ``get``)."""
    if issubclass(handler, WebSocketHandler):
        return {"get"}
    return {m for m in HTTP_METHODS if getattr(handler, m) is not getattr(web.RequestHandler, m)}
