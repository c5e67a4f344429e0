"""openapi.json matches the registered handlers, and is served as the document says.

Until every service has landed its handlers, ``test_every_documented_route_is_registered``
fails listing the routes still missing: that is the contract telling who is behind.
"""

from __future__ import annotations

import json

import schemathesis

from learnpulse_server.handlers.openapi import OPENAPI_FILE, openapi_document
from tests.extension.conftest import as_user
from tests.extension.contract import (
    ACCESS_LEVELS,
    implemented_methods,
    operations,
    registered_routes,
    route_shape,
)


def documented() -> dict[str, dict[str, object]]:
    """Route shape -> {method: operation} of openapi.yaml."""
    shapes: dict[str, dict[str, object]] = {}
    for op in operations():
        shapes.setdefault(route_shape(op.path), {})[op.method] = op
    return shapes


def test_every_registered_route_is_documented():
    undocumented = sorted(set(registered_routes()) - set(documented()))
    assert not undocumented, f"routes missing from {OPENAPI_FILE.name}: {undocumented}"


def test_every_documented_route_is_registered():
    missing = sorted(set(documented()) - set(registered_routes()))
    assert not missing, f"documented routes no handler serves (yet): {missing}"


def test_documented_methods_are_the_implemented_ones():
    routes, mismatched = registered_routes(), []
    for shape, ops in documented().items():
        handler = routes.get(shape)
        if handler is not None and implemented_methods(handler) != set(ops):
            mismatched.append((shape, sorted(implemented_methods(handler)), sorted(ops)))
    assert not mismatched, f"(route, implemented, documented): {mismatched}"


def test_websocket_operations_are_websocket_handlers():
    from tornado.websocket import WebSocketHandler

    routes = registered_routes()
    for op in operations():
        handler = routes.get(route_shape(op.path))
        if handler is not None:
            assert op.websocket == issubclass(handler, WebSocketHandler), str(op)


def test_every_operation_declares_who_may_call_it_and_refusals():
    for op in operations():
        assert op.access in ACCESS_LEVELS, f"{op}: x-learnpulse-access {op.access!r}"
        assert "403" in op.spec["responses"], f"{op}: no 403 response"
        if op.access == "self":
            assert op.learner and op.learner["in"] in ("query", "path", "body"), str(op)
        assert op.spec.get("operationId"), f"{op}: no operationId"


def test_path_parameters_are_declared():
    document = openapi_document()
    for op in operations():
        declared = {
            _resolve(document, p)["name"]
            for p in op.spec.get("parameters", [])
            if _resolve(document, p)["in"] == "path"
        }
        named = {part[1:-1] for part in op.path.split("/") if part.startswith("{")}
        assert declared == named, str(op)


def _resolve(document: dict, node: dict) -> dict:
    if "$ref" not in node:
        return node
    target = document
    for part in node["$ref"].removeprefix("#/").split("/"):
        target = target[part]
    return target


def test_schemathesis_loads_every_operation():
    schema = schemathesis.openapi.from_dict(openapi_document())
    results = list(schema.get_all_operations())
    errors = [str(r.err()) for r in results if not hasattr(r, "ok")]
    assert not errors
    assert len(results) == len(operations())


async def test_document_is_served_as_json_with_the_base_url(jp_fetch, jp_base_url):
    response = await jp_fetch("learnpulse", "api", "openapi.json", headers=as_user("ada"))
    served = json.loads(response.body)
    assert served["servers"] == [{"url": f"{jp_base_url.rstrip('/')}/learnpulse/api"}]
    assert {k: v for k, v in served.items() if k != "servers"} == {
        k: v for k, v in openapi_document().items() if k != "servers"
    }
