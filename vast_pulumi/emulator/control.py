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
- ``PUT /_emulator/hold`` ``{"method": "GET", "route": "/api/v0/workergroups/", "stage": "before"}``:
  park matching API requests until released (``stage`` "after": applied, answer held back);
  ``GET /_emulator/hold`` -> ``{"holds": [{"method", "route", "stage", "parked"}]}``;
  ``DELETE /_emulator/hold`` releases every hold
- ``PUT /_emulator/endpoints/{id}/load`` ``{"load": 3}`` -> ``{"endpoint_id", "load", "wanted_workers",
  "active_workers"}``:
  traffic on a serverless endpoint, in workers' worth (see ``autoscaler``)
- ``GET /_emulator/workers`` / ``PUT /_emulator/workers`` ``{"enabled": false}`` -> ``{"enabled": ...}``:
  serverless workers on or off
- ``POST /_emulator/instances/{id}/outbid`` ``{"min_bid": P}`` (optional): the market outbids an
  interruptible instance, which stops
- ``POST /_emulator/machines/{machine_id}/busy`` ``{"busy": true}``: the machine's GPUs cannot start
  a new rent (``cancel_unavail`` rents get 410, the others wait stopped); ``false`` frees them
- ``POST /_emulator/accounts/{label}/keys`` ``{"api_key": K}``: another key for the account
- ``POST /_emulator/keys/revoke`` / ``POST /_emulator/keys/expire`` ``{"api_key": K}``: the key is
  deleted (401 "Invalid user key") / an expired session key (404 "Session expired...")
- ``GET /_emulator/readings`` -> ``{"profile": ..., "readings": {name: choice}}``;
  ``PUT /_emulator/readings`` ``{name: choice, ...}``: change readings (an unknown name or choice: 400
  naming it, nothing changed); see ``readings``
- ``PUT /_emulator/search_quota`` ``{"per_day": N}`` (null: no quota);
  ``POST /_emulator/accounts/{label}/search_quota/exhaust``: the account's quota is used up today
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute

from vast_pulumi.emulator.errors import ApiError
from vast_pulumi.emulator.faults import FaultSpec, FaultSpecError
from vast_pulumi.emulator.holds import BEFORE, HoldSpecError
from vast_pulumi.emulator.middleware import runtime_of
from vast_pulumi.emulator.models import JsonDict
from vast_pulumi.emulator.readings import ReadingError
from vast_pulumi.emulator.routing import Endpoint, json_body, method_routes
from vast_pulumi.emulator.runtime import Runtime

LOOPBACK = frozenset({"127.0.0.1", "::1", "localhost"})
Handler = Callable[[Runtime, Request, JsonDict], Awaitable[JsonDict]]


def _guarded(handler: Handler) -> Endpoint:
    async def endpoint(request: Request) -> Response:
        runtime = runtime_of(request)
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


async def hold(runtime: Runtime, request: Request, body: JsonDict) -> JsonDict:
    if request.method == "PUT":
        method, route, stage = body.get("method"), body.get("route"), body.get("stage", BEFORE)
        if not isinstance(method, str) or not isinstance(route, str) or not isinstance(stage, str):
            raise ApiError(400, "invalid_args", "Invalid args: method, route and stage are strings")
        try:
            runtime.holds.add(method, route, stage)
        except HoldSpecError as error:
            raise ApiError(400, "invalid_args", f"Invalid args: {error}") from None
    elif request.method == "DELETE":
        runtime.holds.release()
    return {"holds": runtime.holds.listing()}


async def endpoint_load(runtime: Runtime, request: Request, body: JsonDict) -> JsonDict:
    load = body.get("load")
    if isinstance(load, bool) or not isinstance(load, int | float) or load < 0:
        raise ApiError(400, "invalid_args", "Invalid args: load: a number >= 0 (workers' worth of traffic)")
    return runtime.backend.set_endpoint_load(int(request.path_params["id"]), float(load))


async def workers_switch(runtime: Runtime, request: Request, body: JsonDict) -> JsonDict:
    if request.method == "PUT":
        enabled = body.get("enabled")
        if not isinstance(enabled, bool):
            raise ApiError(400, "invalid_args", "Invalid args: enabled: true or false")
        runtime.backend.set_workers(enabled)
    return {"enabled": runtime.backend.workers}


async def outbid(runtime: Runtime, request: Request, body: JsonDict) -> JsonDict:
    min_bid = body.get("min_bid")
    if isinstance(min_bid, bool) or not isinstance(min_bid, int | float | None):
        raise ApiError(400, "invalid_args", "Invalid args: min_bid: a number")
    instance_id = int(request.path_params["id"])
    runtime.backend.outbid_instance(instance_id, None if min_bid is None else float(min_bid))
    return {"success": True, "instance": runtime.backend.instance_row(instance_id)}


async def machine_busy(runtime: Runtime, request: Request, body: JsonDict) -> JsonDict:
    busy = body.get("busy", True)
    if not isinstance(busy, bool):
        raise ApiError(400, "invalid_args", "Invalid args: busy: true or false")
    runtime.backend.set_machine_busy(int(request.path_params["id"]), busy)
    return {"success": True}


def _key(body: JsonDict) -> str:
    key = body.get("api_key")
    if not isinstance(key, str) or not key:
        raise ApiError(400, "invalid_args", "Invalid args: api_key: a non-empty string")
    return key


async def add_key(runtime: Runtime, request: Request, body: JsonDict) -> JsonDict:
    runtime.backend.add_key(request.path_params["label"], _key(body))
    return {"success": True}


async def revoke_key(runtime: Runtime, request: Request, body: JsonDict) -> JsonDict:
    runtime.backend.revoke_key(_key(body))
    return {"success": True}


async def expire_key(runtime: Runtime, request: Request, body: JsonDict) -> JsonDict:
    runtime.backend.expire_session(_key(body))
    return {"success": True}


async def search_quota(runtime: Runtime, request: Request, body: JsonDict) -> JsonDict:
    per_day = body.get("per_day")
    if isinstance(per_day, bool) or not isinstance(per_day, int | None) or (per_day or 0) < 0:
        raise ApiError(400, "invalid_args", "Invalid args: per_day: a non-negative integer or null")
    runtime.search_quota.per_day = per_day
    return {"success": True, "per_day": per_day}


async def exhaust_search_quota(runtime: Runtime, request: Request, body: JsonDict) -> JsonDict:
    runtime.backend.account(request.path_params["label"])  # an unknown label is a 404
    runtime.search_quota.exhaust(request.path_params["label"])
    return {"success": True}


async def readings(runtime: Runtime, request: Request, body: JsonDict) -> JsonDict:
    if request.method == "PUT":
        try:
            runtime.readings.update(body)
        except ReadingError as error:
            raise ApiError(400, "invalid_args", f"Invalid args: {error}") from None
    return {"profile": runtime.readings.profile, "readings": runtime.readings.as_dict()}


def control_routes() -> list[BaseRoute]:
    """The control plane's routes, for any emulator (handlers find theirs with ``runtime_of``)."""
    table: list[tuple[str, str, Handler]] = [
        ("GET", "/_emulator/requests/", requests_log),
        ("POST", "/_emulator/reset/", reset),
        ("GET", "/_emulator/faults/", faults),
        ("PUT", "/_emulator/faults/", faults),
        ("GET", "/_emulator/inventory/", inventory),
        ("POST", "/_emulator/instances/{id:int}/destroy/", host_destroy),
        ("POST", "/_emulator/instances/{id:int}/status/", host_status),
        ("PATCH", "/_emulator/{kind}/{id:int}/", drift),
        ("GET", "/_emulator/hold/", hold),
        ("PUT", "/_emulator/hold/", hold),
        ("DELETE", "/_emulator/hold/", hold),
        ("PUT", "/_emulator/endpoints/{id:int}/load/", endpoint_load),
        ("GET", "/_emulator/workers/", workers_switch),
        ("PUT", "/_emulator/workers/", workers_switch),
        ("POST", "/_emulator/instances/{id:int}/outbid/", outbid),
        ("POST", "/_emulator/machines/{id:int}/busy/", machine_busy),
        ("POST", "/_emulator/accounts/{label}/keys/", add_key),
        ("POST", "/_emulator/keys/revoke/", revoke_key),
        ("POST", "/_emulator/keys/expire/", expire_key),
        ("GET", "/_emulator/readings/", readings),
        ("PUT", "/_emulator/readings/", readings),
        ("PUT", "/_emulator/search_quota/", search_quota),
        ("POST", "/_emulator/accounts/{label}/search_quota/exhaust/", exhaust_search_quota),
    ]
    return method_routes((method, path, _guarded(handler)) for method, path, handler in table)
