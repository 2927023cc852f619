"""Starlette routes from ``(method, path, endpoint)`` rows: one route per path, dispatching on the
method, so that a path served for some methods answers 405 (not 404) for the others."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

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
