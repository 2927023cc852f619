"""The serverless route API (``POST /route/`` on run.vast.ai; here on the console's address).

A client names the endpoint and the cost of its request, authenticated with the endpoint's own key
(Bearer, and ``api_key`` in the body as the SDK sends it: ``vastai/serverless/client/endpoint.py:
167-204``). The answer (openapi.yaml:6128-6227) is a ready worker's ``url`` with ``reqnum`` and a
``signature`` the worker checks, or, with no worker ready, ``status`` (the workers by state): the SDK
reads "no ``url``" as WAITING and routes again with the ``request_idx`` it was given.

Each new request's ``cost`` is load the autoscaler scales on (``autoscaler.demand``); a poll of a
request already counted (its ``request_idx``) adds none. The worker the answer names is served by
the emulator itself (:mod:`vast_pulumi.emulator.workerecho`): a real worker's address is not
reachable here.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from collections import Counter
from dataclasses import dataclass

from vast_pulumi.emulator import autoscaler
from vast_pulumi.emulator.models import Account, Endpoint, Instance, JsonDict, State

# The spec's error bodies (openapi.yaml:6215-6236).
AUTH_FAILED: tuple[int, JsonDict] = (401, {"error": "Authentication failed"})
BAD_REQUEST: tuple[int, JsonDict] = (400, {"error": "Invalid endpoint or missing required parameters"})
# Where the emulator serves a routed worker (``workerecho``), under the control plane's prefix so
# that worker traffic is neither logged as API traffic nor faulted.
WORKER_PATH = "/_emulator/worker/{id}"


@dataclass(frozen=True)
class RouteRequest:
    endpoint: str
    cost: float
    request_idx: int


def parse(body: JsonDict) -> RouteRequest | None:
    """The request, or None when ``endpoint`` or ``cost`` is missing or malformed (both required)."""
    name, cost, index = body.get("endpoint"), body.get("cost"), body.get("request_idx") or 0
    if not isinstance(name, str) or not name:
        return None
    if isinstance(cost, bool) or not isinstance(cost, int | float) or cost < 0:
        return None
    if isinstance(index, bool) or not isinstance(index, int):
        return None
    return RouteRequest(name, float(cost), index)


def find(state: State, name: str, key: str | None) -> tuple[Account, Endpoint] | tuple[int, JsonDict]:
    """The endpoint named ``name`` whose key is ``key``; else the error: 400 for a name no endpoint
    has, 401 for a key that is not that endpoint's."""
    named = [
        (account, endpoint)
        for account in state.accounts.values()
        for endpoint in sorted(account.endpoints.values(), key=lambda e: e.id)
        if endpoint.endpoint_name == name
    ]
    if not named:
        return BAD_REQUEST
    for account, endpoint in named:
        if key is not None and hmac.compare_digest(endpoint.api_key, key):
            return account, endpoint
    return AUTH_FAILED


def count(endpoint: Endpoint, request: RouteRequest, now: float) -> int:
    """The request's number: a known ``request_idx`` is a poll (no new load); otherwise the next
    number, and its cost is load from now."""
    if 0 < request.request_idx <= endpoint.reqnum:
        return request.request_idx
    endpoint.reqnum += 1
    endpoint.routed.append([now, request.cost])
    endpoint.last_activity = now
    return endpoint.reqnum


def answer(
    account: Account,
    endpoint: Endpoint,
    request: RouteRequest,
    reqnum: int,
    states: dict[int, str],
    base_url: str,
    secret: bytes,
) -> JsonDict:
    """A ready worker (round robin over the ready ones by request number) or the waiting answer."""
    ready = [
        w for w in autoscaler.workers(account, endpoint_id=endpoint.id) if states[w.id] == autoscaler.READY
    ]
    common: JsonDict = {
        "endpoint": endpoint.endpoint_name,
        "request_idx": reqnum,
        "__request_id": str(uuid.uuid4()),
    }
    if not ready:
        return {**common, "status": _breakdown(states)}
    worker = ready[reqnum % len(ready)]
    grant: JsonDict = {
        "endpoint": endpoint.endpoint_name,
        "url": worker_address(base_url, worker),
        "cost": request.cost,
        "reqnum": reqnum,
    }
    return {**common, **grant, "signature": sign(secret, grant)}


def worker_address(base_url: str, worker: Instance) -> str:
    return base_url.rstrip("/") + WORKER_PATH.format(id=worker.id)


def sign(secret: bytes, grant: JsonDict) -> str:
    """What the worker checks: an HMAC over the grant's endpoint, url, cost and reqnum."""
    fields = {k: grant.get(k) for k in ("endpoint", "url", "cost", "reqnum")}
    message = json.dumps(fields, sort_keys=True).encode()
    return hmac.new(secret, message, hashlib.sha256).hexdigest()


def _breakdown(states: dict[int, str]) -> str:
    """ "Breakdown of workers in your endpoint group by status" (the spec's example: "Stopped")."""
    if not states:
        return "No workers"
    counts = Counter(states.values())
    return ", ".join(f"{n} {state}" for state, n in sorted(counts.items()))
