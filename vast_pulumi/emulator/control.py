"""The control plane under ``/_emulator/``: for tests, never part of Vast's API.

No account key; loopback clients only. Routes:

- ``GET /_emulator/requests[?since=N]`` -> ``{"requests": [entry, ...]}`` (the request log)
- ``POST /_emulator/reset`` -> ``{"success": true}`` (fresh state, empty log)
- ``GET /_emulator/faults`` / ``PUT /_emulator/faults`` ``{"spec": "500=0.1"}`` or
  ``{"faults": {"500": 0.1}}`` -> ``{"spec": ..., "faults": {...}}``
- ``GET /_emulator/inventory`` -> ``{"accounts": [{"account", "user_id", "endpoints",
  "workergroups", "instances", "ssh_keys", "env_vars" (names only), "volumes"}]}``
- ``POST /_emulator/instances/{id}/destroy``: the host destroys the instance
- ``POST /_emulator/instances/{id}/status`` ``{"actual_status": "exited", "status_msg": "..."}``
- ``PATCH /_emulator/{endpoints|workergroups|instances}/{id}`` ``{field: value}``: drift
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute

from vast_pulumi.emulator.errors import ApiError
from vast_pulumi.emulator.faults import FaultSpec, FaultSpecError
from vast_pulumi.emulator.models import JsonDict
from vast_pulumi.emulator.routing import Endpoint, json_body, method_routes
from vast_pulumi.emulator.runtime import Runtime

LOOPBACK = frozenset({"127.0.0.1", "::1", "localhost"})
Handler = Callable[[Runtime, Request, JsonDict], Awaitable[JsonDict]]


def _guarded(runtime: Runtime, handler: Handler) -> Endpoint:
    async def endpoint(request: Request) -> Response:
        client = request.client.host if request.client else None
        if client not in LOOPBACK:
            return JSONResponse(ApiError(403, "forbidden", "The control plane is loopback-only").body(), 403)
        try:
            return JSONResponse(await handler(runtime, request, await json_body(request)))
        except ApiError as error:
            return JSONResponse(error.body(), status_code=error.status)

    return endpoint


async def requests_log(runtime: Runtime, request: Request, body: JsonDict) -> JsonDict:
    since = request.query_params.get("since", "0")
    if not since.isdigit():
        raise ApiError(400, "invalid_request", "since must be a non-negative integer")
    return {"requests": runtime.log.entries(int(since))}


async def reset(runtime: Runtime, request: Request, body: JsonDict) -> JsonDict:
    runtime.reset()
    return {"success": True}


async def faults(runtime: Runtime, request: Request, body: JsonDict) -> JsonDict:
    if request.method == "PUT":
        spec = body.get("faults", body.get("spec", ""))
        if not isinstance(spec, str | dict):
            raise ApiError(400, "invalid_args", "Invalid args: spec: a string like '500=0.1' or an object")
        try:
            runtime.faults.spec = FaultSpec.parse(spec)
        except FaultSpecError as error:
            raise ApiError(400, "invalid_args", f"Invalid args: spec: {error}") from None
    return {"spec": str(runtime.faults.spec), "faults": runtime.faults.spec.as_dict()}


async def inventory(runtime: Runtime, request: Request, body: JsonDict) -> JsonDict:
    return {"accounts": runtime.backend.inventory()}


async def host_destroy(runtime: Runtime, request: Request, body: JsonDict) -> JsonDict:
    runtime.backend.host_destroy_instance(int(request.path_params["id"]))
    return {"success": True}


async def host_status(runtime: Runtime, request: Request, body: JsonDict) -> JsonDict:
    status, message = body.get("actual_status"), body.get("status_msg")
    if not isinstance(status, str | None) or not isinstance(message, str | None):
        raise ApiError(400, "invalid_args", "Invalid args: actual_status and status_msg are strings")
    instance_id = int(request.path_params["id"])
    runtime.backend.host_set_status(instance_id, status, message)
    return {"success": True, "instance": runtime.backend.instance_row(instance_id)}


async def drift(runtime: Runtime, request: Request, body: JsonDict) -> JsonDict:
    row = runtime.backend.drift(request.path_params["kind"], int(request.path_params["id"]), body)
    return {"success": True, "row": row}


def control_routes(runtime: Runtime) -> list[BaseRoute]:
    table: list[tuple[str, str, Handler]] = [
        ("GET", "/_emulator/requests/", requests_log),
        ("POST", "/_emulator/reset/", reset),
        ("GET", "/_emulator/faults/", faults),
        ("PUT", "/_emulator/faults/", faults),
        ("GET", "/_emulator/inventory/", inventory),
        ("POST", "/_emulator/instances/{id:int}/destroy/", host_destroy),
        ("POST", "/_emulator/instances/{id:int}/status/", host_status),
        ("PATCH", "/_emulator/{kind}/{id:int}/", drift),
    ]
    return method_routes((method, path, _guarded(runtime, handler)) for method, path, handler in table)
