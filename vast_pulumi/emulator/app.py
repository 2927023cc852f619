"""The HTTP layer: Vast's console API routes, each a thin translation to one backend call.

A route's handler gets a :class:`Call` (the authenticated account, the JSON body, path and query
parameters) and returns the response body, or ``(status, body)``. Authentication (answered per route,
see ``auth``), the rate limit, the search quota, body parsing and turning :class:`ApiError` into the
API's JSON error happen once, in :func:`api`.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute

from vast_pulumi.emulator import auth
from vast_pulumi.emulator.backend import Backend
from vast_pulumi.emulator.control import control_routes
from vast_pulumi.emulator.errors import ApiError
from vast_pulumi.emulator.middleware import ACCOUNT_KEY, ROUTE_KEY, EmulatorMiddleware, runtime_of
from vast_pulumi.emulator.models import Account, JsonDict
from vast_pulumi.emulator.ratelimit import Throttled
from vast_pulumi.emulator.routing import Endpoint, json_body, method_routes
from vast_pulumi.emulator.runtime import Runtime
from vast_pulumi.emulator.schemas import parse_ids, volume_id
from vast_pulumi.emulator.workerecho import worker_routes

Body = JsonDict | list[JsonDict] | str  # ``GET /ssh/`` answers a bare array
Result = Body | tuple[int, Body]


@dataclass
class Call:
    backend: Backend
    caller: Account | None  # None on the public routes
    body: JsonDict
    query: dict[str, str]
    id: int  # the {id} path parameter, 0 when the route has none
    path: dict[str, str] = field(default_factory=dict)  # every path parameter, as text
    key: str | None = None  # the key the request carries (the serverless routes check it themselves)
    base_url: str = ""  # where this request reached the emulator

    @property
    def account(self) -> Account:
        if self.caller is None:
            raise RuntimeError("an unauthenticated route asked for the account")
        return self.caller


Handler = Callable[[Call], Result]


def route_template(path: str) -> str:
    """``/api/v0/instances/{id:int}/`` -> ``/api/v0/instances/{id}/``."""
    return re.sub(r"\{(\w+):\w+\}", r"{\1}", path)


def api_key_of(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip() or None
    return request.query_params.get("api_key")  # legacy, still accepted by the API


def api(handler: Handler, *, authenticated: bool = True) -> Endpoint:
    async def endpoint(request: Request) -> Response:
        runtime = runtime_of(request)
        template = route_template(request.scope["route"].path)
        request.scope[ROUTE_KEY] = template
        try:
            account = _account(runtime, request, template) if authenticated else None
            call = Call(
                backend=runtime.backend,
                caller=account,
                body=await json_body(request),
                query=dict(request.query_params),
                id=int(request.path_params.get("id", 0)),
                path={k: str(v) for k, v in request.path_params.items()},
                key=api_key_of(request),
                base_url=str(request.base_url),
            )
            result = handler(call)
        except Throttled as throttled:
            return Response(throttled.body, 429, throttled.headers, throttled.media_type)
        except ApiError as error:
            return JSONResponse(error.body(), status_code=error.status, headers=error.headers)
        status, body = result if isinstance(result, tuple) else (200, result)
        return JSONResponse(body, status_code=status)

    return endpoint


def _account(runtime: Runtime, request: Request, template: str) -> Account:
    try:
        account = runtime.backend.authenticate(api_key_of(request))
    except auth.KeyRejected as rejected:
        raise auth.answer(rejected, request.method, template) from None
    request.scope[ACCOUNT_KEY] = account.label
    runtime.limiter.check(account.label, request.method, template)
    runtime.search_quota.charge(account.label, request.method, template)
    return account


# Endpoints (/endptjobs/).


def list_endpoints(c: Call) -> Result:
    rows = c.backend.list_endpoints(c.account)
    if not rows and c.backend.no_endpoints_error:
        # An account without endpoints gets a 400, not an empty list (openapi.yaml:1244-1259).
        raise ApiError(400, "invalid_args", "No endpoints for user found")
    return {"success": True, "results": rows}


def create_endpoint(c: Call) -> Result:
    return {"success": True, "result": c.backend.create_endpoint(c.account, c.body)}


def get_endpoint(c: Call) -> Result:
    return {"success": True, "result": c.backend.get_endpoint(c.account, c.id)}


def update_endpoint(c: Call) -> Result:
    c.backend.update_endpoint(c.account, c.id, c.body)
    return {"success": True}


def delete_endpoint(c: Call) -> Result:
    return c.backend.delete_endpoint(c.account, c.id)


# Workergroups (/workergroups/ and /autojobs/).


def list_workergroups(c: Call) -> Result:
    return {"success": True, "results": c.backend.list_workergroups(c.account)}


def create_workergroup(c: Call) -> Result:
    return {"success": True, "id": c.backend.create_workergroup(c.account, c.body)}


def update_workergroup(c: Call) -> Result:
    c.backend.update_workergroup(c.account, c.id, c.body)
    return {"success": True}


def delete_workergroup(c: Call) -> Result:
    return c.backend.delete_workergroup(c.account, c.id)


# Offers.


def search_bundles(c: Call) -> Result:
    query = c.body
    if not query and "q" in c.query:  # very old clients: GET /bundles/?q=<json>
        query = _json_object(c.query["q"], "q")
    return {"offers": c.backend.search_offers(query)}


def search_asks(c: Call) -> Result:
    query = c.body.get("q", {})
    if not isinstance(query, dict):
        raise ApiError(400, "invalid_request", "q must be a JSON object")
    return {"offers": c.backend.search_offers(query)}


def _json_object(text: str, name: str) -> JsonDict:
    try:
        value = json.loads(text)
    except ValueError:
        raise ApiError(400, "invalid_request", f"{name} is not valid JSON") from None
    if not isinstance(value, dict):
        raise ApiError(400, "invalid_request", f"{name} must be a JSON object")
    return value


# Instances.


def create_instance(c: Call) -> Result:
    return c.backend.create_instance(c.account, c.id, c.body)


def show_instance(c: Call) -> Result:
    return {"instances": c.backend.get_instance(c.account, c.id)}


def deprecated_instances(c: Call) -> Result:
    return 410, {
        "success": False,
        "error": "deprecated_endpoint",
        "msg": "/api/v0/instances/ is deprecated. Use /api/v1/instances/ instead.",
    }


def list_instances_v1(c: Call) -> Result:
    return c.backend.list_instances(c.account, c.query)


def instance_filters(c: Call) -> Result:
    return {"success": True, "filters": c.backend.instance_filters(c.account)}


def manage_instance(c: Call) -> Result:
    c.backend.manage_instance(c.account, c.id, c.body)
    return {"success": True}


def manage_instances(c: Call) -> Result:
    c.backend.manage_instances(c.account, parse_ids(c.body, "ids"), c.body)
    return {"success": True}


def destroy_instance(c: Call) -> Result:
    c.backend.destroy_instance(c.account, c.id)
    return {"success": True}


def destroy_instances(c: Call) -> Result:
    c.backend.destroy_instances(c.account, parse_ids(c.body, "instance_ids"))
    return {"success": True}


def update_instance_template(c: Call) -> Result:
    return {"success": True, "updated_instance": c.backend.update_instance_template(c.account, c.id, c.body)}


def restart_instance(c: Call) -> Result:
    c.backend.restart_instance(c.account, c.id)
    return {"success": True}


def change_bid(c: Call) -> Result:
    c.backend.change_bid(c.account, c.id, c.body)
    return {"success": True}


# Serverless workers: the autoscaler's routes (run.vast.ai; the client posts to --url when it is not
# the console's). They check the key themselves (the account's or the endpoint's/group's own, as
# Bearer or ``api_key`` in the body): a bad key or an unknown id answers 200 with an error, as the
# sources show (the SDK reads it as "no workers yet", vastai/serverless/client/client.py:486-495).


def _serverless_key(c: Call) -> str | None:
    given = c.body.get("api_key")
    return c.key or (given if isinstance(given, str) else None)


def endpoint_workers(c: Call) -> Result:
    rows = c.backend.endpoint_workers(_serverless_key(c), _body_id(c))
    if rows is None:  # what the serverless SDK's get_endpoint_workers reads
        unknown = f"invalid api_key or endpoint {_body_id(c)} not found"
        return {"error_msg": f"authenticate_endpoint_apikey_by_id: {unknown}"}
    return rows  # a list: the SDK requires one, the CLI takes it too


def route_request(c: Call) -> Result:
    """``POST /route/``, authenticated with the endpoint's key (see ``route``)."""
    return c.backend.route(c.body, c.key, c.base_url)


def workergroup_workers(c: Call) -> Result:
    rows = c.backend.workergroup_workers(_serverless_key(c), _body_id(c))
    if rows is None:  # a plain JSON string (OpenAPI getWorkergroupWorkers)
        return f"authenticate_workergroup_apikey: invalid api_key or workergroup {_body_id(c)} not found"
    return {"workers": [{k: w[k] for k in ("id", "status", "url", "created_at")} for w in rows]}


def _body_id(c: Call) -> int:
    value = c.body.get("id")
    if isinstance(value, bool) or not isinstance(value, int):
        raise ApiError(400, "invalid_args", "Invalid args: id: an integer is required")
    return value


# Templates.


def search_templates(c: Call) -> Result:
    filters = _json_object(c.query.get("select_filters") or "{}", "select_filters")
    return {"success": True, "templates": c.backend.search_templates(c.account, filters)}


def create_template(c: Call) -> Result:
    row, created = c.backend.create_template(c.account, c.body)
    return {
        "success": True,
        "msg": "Template created" if created else "Existing template found",
        "template": row,
    }


def edit_template(c: Call) -> Result:
    return {
        "success": True,
        "msg": "Template updated",
        "template": c.backend.edit_template(c.account, c.body),
    }


def delete_template(c: Call) -> Result:
    c.backend.delete_template(c.account, c.body)
    return {"success": True, "msg": "Template deleted"}


# SSH keys: the account's, and those on an instance.


def list_ssh_keys(c: Call) -> Result:
    return c.backend.list_ssh_keys(c.account)


def create_ssh_key(c: Call) -> Result:
    return {"success": True, "key": c.backend.create_ssh_key(c.account, c.body)}


def update_ssh_key(c: Call) -> Result:
    return {"success": True, "key": c.backend.update_ssh_key(c.account, c.id, c.body)}


def delete_ssh_key(c: Call) -> Result:
    c.backend.delete_ssh_key(c.account, c.id)
    return {"success": True}


def instance_ssh_keys(c: Call) -> Result:
    return {"success": True, "ssh_keys": c.backend.instance_ssh_keys(c.account, c.id)}


def attach_ssh_key(c: Call) -> Result:
    c.backend.attach_ssh_key(c.account, c.id, c.body)
    return {"success": True, "msg": "SSH key attached successfully"}


def detach_ssh_key(c: Call) -> Result:
    c.backend.detach_ssh_key(c.account, c.id, c.path["key"])
    return {"success": True, "msg": "SSH key removed from instance."}


# Account env vars (/secrets/).


def list_env_vars(c: Call) -> Result:
    return {"success": True, "secrets": c.backend.list_env_vars(c.account)}


def create_env_var(c: Call) -> Result:
    c.backend.create_env_var(c.account, c.body)
    return {"success": True, "msg": "Environment variable added successfully"}


def update_env_var(c: Call) -> Result:
    c.backend.update_env_var(c.account, c.body)
    return {"success": True, "msg": "Environment variable updated successfully"}


def delete_env_var(c: Call) -> Result:
    c.backend.delete_env_var(c.account, c.body)
    return {"success": True, "msg": "Environment variable deleted successfully"}


# Volumes.


def search_volume_offers(c: Call) -> Result:
    return {"offers": c.backend.search_volume_offers(c.body)}


def list_volumes(c: Call) -> Result:
    return {"volumes": c.backend.list_volumes(c.account, c.query)}


def create_volume(c: Call) -> Result:
    return c.backend.create_volume(c.account, c.body)


def delete_volume(c: Call) -> Result:
    c.backend.delete_volume(c.account, volume_id(c.query, c.body))
    return {"success": True}


# The caller and the GPU catalogue (used by the CLI for completions and its role).


def current_user(c: Call) -> Result:
    label = c.account.label
    return {
        "id": c.account.user_id,
        "username": label,
        "email": f"{label}@emulator.invalid",
        "fullname": f"Vast emulator {label}",
        "balance": 0.0,
        "credit": 100.0,
        "has_billing": True,
        "host_agreement_accepted": False,
        "ssh_key": None,
    }


def gpu_names(c: Call) -> Result:
    return {"gpu_names": c.backend.gpu_names()}


def gpu_types(c: Call) -> Result:
    return {"gpu_types": [{"canonical_name": name} for name in c.backend.gpu_names()]}


ROUTES: Sequence[tuple[str, str, Handler]] = (
    ("GET", "/api/v0/endptjobs/", list_endpoints),
    ("POST", "/api/v0/endptjobs/", create_endpoint),
    ("GET", "/api/v0/endptjobs/{id:int}/", get_endpoint),
    ("PUT", "/api/v0/endptjobs/{id:int}/", update_endpoint),
    ("DELETE", "/api/v0/endptjobs/{id:int}/", delete_endpoint),
    *(
        route
        for prefix in ("/api/v0/workergroups/", "/api/v0/autojobs/")
        for route in (
            ("GET", prefix, list_workergroups),
            ("POST", prefix, create_workergroup),
            ("PUT", prefix + "{id:int}/", update_workergroup),
            ("DELETE", prefix + "{id:int}/", delete_workergroup),
        )
    ),
    ("POST", "/api/v0/bundles/", search_bundles),
    ("GET", "/api/v0/bundles/", search_bundles),
    ("PUT", "/api/v0/search/asks/", search_asks),
    ("PUT", "/api/v0/asks/{id:int}/", create_instance),
    ("GET", "/api/v0/instances/", deprecated_instances),
    ("PUT", "/api/v0/instances/", manage_instances),
    ("DELETE", "/api/v0/instances/", destroy_instances),
    ("GET", "/api/v0/instances/filters/", instance_filters),
    ("GET", "/api/v0/instances/{id:int}/", show_instance),
    ("PUT", "/api/v0/instances/{id:int}/", manage_instance),
    ("DELETE", "/api/v0/instances/{id:int}/", destroy_instance),
    ("PUT", "/api/v0/instances/update_template/{id:int}/", update_instance_template),
    ("PUT", "/api/v0/instances/reboot/{id:int}/", restart_instance),
    ("PUT", "/api/v0/instances/recycle/{id:int}/", restart_instance),
    ("PUT", "/api/v0/instances/bid_price/{id:int}/", change_bid),
    ("GET", "/api/v1/instances/", list_instances_v1),
    ("GET", "/api/v0/template/", search_templates),
    ("POST", "/api/v0/template/", create_template),
    ("PUT", "/api/v0/template/", edit_template),
    ("DELETE", "/api/v0/template/", delete_template),
    ("GET", "/api/v1/template/", search_templates),
    ("PUT", "/api/v1/template/", edit_template),
    ("GET", "/api/v0/users/current/", current_user),
    ("GET", "/api/v0/ssh/", list_ssh_keys),
    ("POST", "/api/v0/ssh/", create_ssh_key),
    ("PUT", "/api/v0/ssh/{id:int}/", update_ssh_key),
    ("DELETE", "/api/v0/ssh/{id:int}/", delete_ssh_key),
    ("GET", "/api/v0/instances/{id:int}/ssh/", instance_ssh_keys),
    ("POST", "/api/v0/instances/{id:int}/ssh/", attach_ssh_key),
    ("DELETE", "/api/v0/instances/{id:int}/ssh/{key}/", detach_ssh_key),
    ("GET", "/api/v0/secrets/", list_env_vars),
    ("POST", "/api/v0/secrets/", create_env_var),
    ("PUT", "/api/v0/secrets/", update_env_var),
    ("DELETE", "/api/v0/secrets/", delete_env_var),
    ("POST", "/api/v0/volumes/search/", search_volume_offers),
    ("GET", "/api/v0/volumes/", list_volumes),
    ("PUT", "/api/v0/volumes/", create_volume),
    ("DELETE", "/api/v0/volumes/", delete_volume),
)
# No account key checked up front: the CLI fetches the GPU names without credentials; the serverless
# routes check their keys themselves.
PUBLIC_ROUTES: Sequence[tuple[str, str, Handler]] = (
    ("GET", "/api/v0/gpu_names/unique/", gpu_names),
    ("GET", "/api/v0/gpu_types/", gpu_types),
    ("POST", "/get_endpoint_workers/", endpoint_workers),
    ("POST", "/get_workergroup_workers/", workergroup_workers),
    ("POST", "/route/", route_request),
)


@functools.cache
def _routes() -> tuple[BaseRoute, ...]:
    """Every route, built once per process and shared by its emulators (a route finds the emulator
    a request reached with ``runtime_of``; Starlette's routes keep no per-request state)."""
    rows = [(method, path, api(handler)) for method, path, handler in ROUTES]
    rows += [(method, path, api(handler, authenticated=False)) for method, path, handler in PUBLIC_ROUTES]
    return (*method_routes(rows), *control_routes(), *worker_routes())


async def _http_error(request: Request, exc: Exception) -> Response:
    status = exc.status_code if isinstance(exc, HTTPException) else 500
    if status == 405:
        body = ApiError(
            405, "method_not_allowed", f"{request.method} is not allowed on {_path(request)}"
        ).body()
    elif status == 404:
        body = ApiError(404, "not_found", f"No API endpoint at {_path(request)}").body()
    else:
        body = ApiError(status, "server_error", "Internal server error").body()
    return JSONResponse(body, status_code=status)


def build_app(runtime: Runtime) -> EmulatorMiddleware:
    """The whole emulator as an ASGI app for uvicorn."""
    starlette = Starlette(
        routes=list(_routes()),
        exception_handlers={HTTPException: _http_error, Exception: _http_error},
    )
    starlette.router.redirect_slashes = False
    return EmulatorMiddleware(starlette, runtime)


def _path(request: Request) -> str:
    return str(request.scope.get("original_path", request.url.path))
