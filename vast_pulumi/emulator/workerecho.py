"""A routed worker, answering at the address the route API gave (``route.WORKER_PATH``).

Real workers run the customer's model server behind Vast's PyWorker; a client posts to the worker's
``url`` + its route ``{"auth_data": <the route answer>, "payload": ...}`` with the endpoint's key
(``vastai/serverless/client/client.py:735-760``). The emulator stands in for every worker with an
echo: the grant must be the route API's, signed for this worker, and the worker ready (IDLE); the
answer echoes the payload with the worker's id, the route and the request number.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute

from vast_pulumi.emulator.errors import ApiError
from vast_pulumi.emulator.middleware import runtime_of
from vast_pulumi.emulator.routing import json_body, method_routes

PATHS = ("/_emulator/worker/{id:int}/", "/_emulator/worker/{id:int}/{rest:path}")


def worker_routes() -> list[BaseRoute]:
    """The workers' routes, for any emulator (the handler finds its with ``runtime_of``)."""

    async def echo(request: Request) -> Response:
        runtime = runtime_of(request)
        try:
            body = await json_body(request)
        except ApiError as error:
            return JSONResponse({"error": error.msg}, status_code=400)
        worker_id = int(request.path_params["id"])
        status, answer = runtime.backend.routed_worker(worker_id, body.get("auth_data"))
        if status == 200:
            route = "/" + str(request.path_params.get("rest", "")).strip("/")
            answer = {**answer, "route": route, "payload": body.get("payload")}
        return JSONResponse(answer, status_code=status)

    return method_routes((method, path, echo) for path in PATHS for method in ("POST", "PUT", "GET"))
