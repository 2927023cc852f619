"""HTTP plumbing the API and control-plane layers share: routes from ``(method, path, endpoint)`` rows,
one route per path dispatching on the method (so a path served for some methods answers 405, not 404,
for the others), and reading JSON bodies."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Iterable

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from vast_pulumi.emulator.errors import ApiError
from vast_pulumi.emulator.models import JsonDict

Endpoint = Callable[[Request], Awaitable[Response]]


def method_routes(rows: Iterable[tuple[str, str, Endpoint]]) -> list[BaseRoute]:
    by_path: dict[str, dict[str, Endpoint]] = {}
    for method, path, endpoint in rows:
        by_path.setdefault(path, {})[method] = endpoint
    return [Route(path, _dispatch(methods), methods=list(methods)) for path, methods in by_path.items()]


def _dispatch(methods: dict[str, Endpoint]) -> Endpoint:
    async def endpoint(request: Request) -> Response:
        handler = methods.get(request.method) or methods["GET"]  # HEAD is answered as GET
        return await handler(request)

    return endpoint


async def json_body(request: Request) -> JsonDict:
    """The JSON object sent (the CLI sends one even with GET and DELETE); ``{}`` when none."""
    raw = await request.body()
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw)
    except ValueError:
        raise ApiError(400, "invalid_request", "Invalid json body") from None
    if not isinstance(body, dict):
        raise ApiError(400, "invalid_request", "The JSON body must be an object")
    return body
