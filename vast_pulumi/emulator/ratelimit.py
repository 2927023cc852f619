"""Per-account, per-route minimum intervals between calls (``--rate-limits``), and the shapes of
the 429 the real API answers with.

The real API enforces "a minimum interval between calls" per endpoint and caller. The interval runs
from the last *accepted* call: a rejected call does not push the next allowed moment further out.

Its 429 comes in three shapes (:data:`STYLES`, ``--rate-limit-style``):

- ``detail``: ``{"detail": "API requests too frequent endpoint threshold=N"}``, the 429 schema of
  most routes in Vast's OpenAPI spec (e.g. openapi.yaml:1883-1892, PUT /asks/{id}). The default.
- ``json``: ``{"success": false, "error": "rate_limit_exceeded", "msg": ...}``, the spec's 429 on a
  few routes (openapi.yaml:3774-3789, 5869-5884).
- ``text``: the message as plain text, which Vast's rate-limit docs say some routes send.

Which shape a route answers with is a reading (``readings``, ``rate_limit_bodies``): ``global`` uses
``detail`` everywhere; ``per_route`` the shape the spec gives that route (:data:`ROUTE_STYLES`). An
explicit ``--rate-limit-style`` overrides both.

``Retry-After`` (``--retry-after``): off by default, as no 429 in the spec documents a header; on,
it gives the seconds until the route's interval has passed, rounded up. The official client honours
it up to 60 s (vastai/api/client.py:99-112), so both cases occur.
"""

from __future__ import annotations

import json
import math
import re
import threading
import time
from collections.abc import Callable

from vast_pulumi.emulator.readings import Readings

STYLES = ("detail", "json", "text", "msg")
DEFAULT_STYLE = "detail"

# Seconds between calls, per (method, path as Vast's OpenAPI spec spells it): every 429 example
# there says "API requests too frequent endpoint threshold=N" (vast-ai/docs, api-reference/openapi.yaml);
# routes it gives no threshold are not limited. Routes the emulator does not serve are kept, so the table
# stays the spec's whole list.
THRESHOLDS: dict[tuple[str, str], float] = {
    ("PUT", "/api/v0/asks/{id}"): 4.5,
    ("GET", "/api/v0/endptjobs"): 3.0,
    ("POST", "/api/v0/endptjobs"): 4.0,
    ("PUT", "/api/v0/endptjobs/{id}"): 2.0,
    ("DELETE", "/api/v0/endptjobs/{id}"): 3.0,
    ("GET", "/api/v0/workergroups"): 2.0,
    ("POST", "/api/v0/workergroups"): 4.0,
    ("PUT", "/api/v0/workergroups/{id}"): 2.0,
    ("DELETE", "/api/v0/workergroups/{id}"): 3.0,
    ("GET", "/api/v0/instances/{id}"): 2.0,
    ("PUT", "/api/v0/instances/{id}"): 1.0,
    ("DELETE", "/api/v0/instances/{id}"): 3.0,
    ("DELETE", "/api/v0/instances/{id}/ssh/{ssh_key_id}"): 2.0,
    ("PUT", "/api/v0/instances/bid_price/{id}"): 5.5,
    ("PUT", "/api/v0/instances/command/{id}"): 1.5,
    ("PUT", "/api/v0/instances/prepay/{id}"): 2.0,
    ("PUT", "/api/v0/instances/reboot/{id}"): 1.0,
    ("PUT", "/api/v0/instances/recycle/{id}"): 1.0,
    ("GET", "/api/v0/instances/balance/{id}"): 3.0,
    ("GET", "/api/v1/instances"): 1.0,
    ("GET", "/api/v0/template"): 3.0,
    ("GET", "/api/v0/auth/apikeys"): 1.0,
    ("POST", "/api/v0/auth/apikeys"): 2.0,
    ("DELETE", "/api/v0/auth/apikeys/{id}"): 2.0,
    ("GET", "/api/v0/secrets"): 5.0,
    ("POST", "/api/v0/secrets"): 3.0,
    ("PUT", "/api/v0/secrets"): 3.0,
    ("DELETE", "/api/v0/secrets"): 3.0,
    ("POST", "/api/v0/ssh"): 1.0,
    ("PUT", "/api/v0/ssh/{id}"): 1.0,
    ("POST", "/api/v0/users"): 3.0,
    ("PUT", "/api/v0/users"): 5.0,
    ("GET", "/api/v0/volumes"): 5.5,
    ("DELETE", "/api/v0/volumes"): 5.5,
    ("POST", "/api/v0/volumes/search"): 5.5,
    ("POST", "/api/v0/volumes/unlist"): 5.0,
    ("GET", "/api/v0/benchmarks"): 3.0,
    ("GET", "/api/v0/charges"): 1.0,
    ("GET", "/api/v1/invoices"): 3.0,
    ("PUT", "/api/v0/commands/transfer_credit"): 2.5,
    ("GET", "/api/v0/deployments"): 3.0,
    ("GET", "/api/v0/deployment/{id}"): 3.0,
    ("POST", "/api/v0/deployment/{id}/start"): 2.0,
    ("POST", "/api/v0/deployment/{id}/stop"): 2.0,
    ("PUT", "/api/v0/machines/create_bids"): 2.8,
    ("DELETE", "/api/v0/machines/{machine_id}/asks"): 1.8,
    ("PUT", "/api/v0/machines/{machine_id}/cleanup"): 8.0,
    ("DELETE", "/api/v0/machines/{machine_id}/defjob"): 1.2,
    ("PUT", "/api/v0/machines/{machine_id}/dnotify"): 2.5,
    ("PUT", "/api/v0/machines/{machine_id}/minbid"): 1.5,
    ("GET", "/api/v0/metrics/gpu/current"): 3.0,
    ("GET", "/api/v0/metrics/gpu/history"): 3.0,
    ("GET", "/api/v0/metrics/gpu/locations"): 3.0,
    ("GET", "/api/v0/subaccounts"): 2.1,
    ("DELETE", "/api/v0/team/members/{id}"): 3.0,
    ("GET", "/api/v0/users/cloud_integrations"): 2.9,
    ("GET", "/api/v0/users/{user_id}/ipaddrs"): 2.9,
    ("GET", "/api/v0/users/{user_id}/machine-earnings"): 2.0,
}

# The routes whose 429 the spec does not give as ``{detail}`` (reading ``rate_limit_bodies=per_route``):
# the JSON error on DELETE /instances/{id} (openapi.yaml:3774-3789) and DELETE /team/members/{id}
# (5869-5884), a bare ``{msg}`` on POST /team/invite; POST /template and GET /machines document a 429
# without a body, answered as plain text (the docs: the body is "often plain text").
ROUTE_STYLES: dict[tuple[str, str], str] = {
    ("DELETE", "/api/v0/instances/{id}"): "json",
    ("DELETE", "/api/v0/team/members/{id}"): "json",
    ("POST", "/api/v0/team/invite"): "msg",
    ("POST", "/api/v0/template"): "text",
    ("GET", "/api/v0/machines"): "text",
}

# Same server route under another name: one clock for both.
ALIASES = {"/api/v0/autojobs": "/api/v0/workergroups", "/api/v0/autojobs/{}": "/api/v0/workergroups/{}"}

_PARAMETER = re.compile(r"\{[^}]*\}")


def route_key(method: str, route: str) -> tuple[str, str]:
    """``("PUT", "/api/v0/autojobs/{id}/")`` -> ``("PUT", "/api/v0/workergroups/{}")``: the route's
    shape, whatever its parameters are called (the spec's ``{ssh_key_id}`` is the emulator's ``{key}``)."""
    path = _PARAMETER.sub("{}", route.rstrip("/") or "/")
    return method.upper(), ALIASES.get(path, path)


_BY_ROUTE = {route_key(method, path): seconds for (method, path), seconds in THRESHOLDS.items()}
_STYLE_BY_ROUTE = {route_key(method, path): style for (method, path), style in ROUTE_STYLES.items()}
_NUMBER = re.compile(r"/\d+(?=/|$)")


def path_key(method: str, path: str) -> tuple[str, str]:
    """A request path's route key, before routing (an injected fault): numbers are parameters."""
    return route_key(method, _NUMBER.sub("/{}", path))


def threshold(method: str, route: str) -> float | None:
    """The published seconds between calls of ``method route`` (any spelling of the route), if any."""
    return _BY_ROUTE.get(route_key(method, route))


class Throttled(Exception):
    """A 429 answer, ready to send: the HTTP layer passes it on as it is."""

    status = 429

    def __init__(self, body: bytes, media_type: str, headers: dict[str, str]) -> None:
        super().__init__(body.decode())
        self.body = body
        self.media_type = media_type
        self.headers = headers


class RateLimiter:
    """Answers 429 when an account calls a limited route sooner than its threshold allows."""

    def __init__(
        self,
        *,
        enabled: bool,
        scale: float = 1.0,
        style: str | None = None,
        retry_after: bool = False,
        clock: Callable[[], float] = time.monotonic,
        readings: Readings | None = None,
    ) -> None:
        if style is not None and style not in STYLES:
            raise ValueError(f"rate-limit style {style!r}: use one of {', '.join(STYLES)}")
        self.enabled = enabled
        self.scale = scale
        self.style = style  # None: per the reading rate_limit_bodies
        self.readings = readings if readings is not None else Readings()
        self.retry_after = retry_after
        self.clock = clock  # a test may share one fake clock between the emulator and a client
        self._last_accepted: dict[tuple[str, str, str], float] = {}
        self._lock = threading.Lock()

    def check(self, account: str, method: str, route: str) -> None:
        if not self.enabled:
            return
        key = route_key(method, route)
        seconds = _BY_ROUTE.get(key)
        if seconds is None:
            return
        now = self.clock()
        with self._lock:
            last = self._last_accepted.get((account, *key))
            interval = seconds * self.scale
            if last is not None and now - last < interval:
                raise self.rejection(seconds, wait=interval - (now - last), key=key)
            self._last_accepted[(account, *key)] = now

    def style_for(self, key: tuple[str, str] | None) -> str:
        """The 429 shape of a route: ``--rate-limit-style`` if given, else per the reading."""
        if self.style is not None:
            return self.style
        if key is not None and self.readings.is_("rate_limit_bodies", "per_route"):
            return _STYLE_BY_ROUTE.get(key, DEFAULT_STYLE)
        return DEFAULT_STYLE

    def rejection(self, threshold: float, *, wait: float, key: tuple[str, str] | None = None) -> Throttled:
        """The 429 in the route's shape (``key`` from :func:`route_key`). The message names the
        published threshold, whatever ``--rate-limit-scale`` is; ``Retry-After`` (when on) the real wait."""
        message = f"API requests too frequent endpoint threshold={threshold:.1f}"
        headers = {"Retry-After": str(max(1, math.ceil(wait)))} if self.retry_after else {}
        style = self.style_for(key)
        if style == "text":
            return Throttled(message.encode(), "text/plain; charset=utf-8", headers)
        body: dict[str, object]
        if style == "detail":
            body = {"detail": message}
        elif style == "msg":
            body = {"msg": message}
        else:
            body = {"success": False, "error": "rate_limit_exceeded", "msg": message}
        return Throttled(json.dumps(body).encode(), "application/json", headers)

    def reset(self) -> None:
        with self._lock:
            self._last_accepted.clear()
