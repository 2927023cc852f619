"""Per-account, per-route minimum intervals between calls (``--rate-limits``).

The real API enforces "a minimum interval between calls" per endpoint and caller, and answers 429
with no ``Retry-After`` header. The interval runs from the last *accepted* call: a rejected call
does not push the next allowed moment further out.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from vast_pulumi.emulator.errors import ApiError

# Seconds between calls, per (method, route). Copied from the 429 examples
# ("API requests too frequent endpoint threshold=N") in Vast's OpenAPI spec,
# vast-ai/docs api-reference/openapi.yaml; routes not listed there are not limited.
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
    ("GET", "/api/v0/benchmarks"): 3.0,
    ("GET", "/api/v0/charges"): 1.0,
    ("GET", "/api/v1/invoices"): 3.0,
}

# Same server route under another name: one clock for both.
ALIASES = {"/api/v0/autojobs": "/api/v0/workergroups", "/api/v0/autojobs/{id}": "/api/v0/workergroups/{id}"}


def route_key(method: str, route: str) -> tuple[str, str]:
    """``("PUT", "/api/v0/autojobs/{id}/")`` -> ``("PUT", "/api/v0/workergroups/{id}")``."""
    path = route.rstrip("/") or "/"
    return method.upper(), ALIASES.get(path, path)


class RateLimiter:
    """Answers 429 when an account calls a limited route sooner than its threshold allows."""

    def __init__(
        self, *, enabled: bool, scale: float = 1.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.enabled = enabled
        self.scale = scale
        self._clock = clock
        self._last_accepted: dict[tuple[str, str, str], float] = {}
        self._lock = threading.Lock()

    def check(self, account: str, method: str, route: str) -> None:
        if not self.enabled:
            return
        key = route_key(method, route)
        threshold = THRESHOLDS.get(key)
        if threshold is None:
            return
        now = self._clock()
        with self._lock:
            last = self._last_accepted.get((account, *key))
            if last is not None and now - last < threshold * self.scale:
                raise too_frequent(threshold)
            self._last_accepted[(account, *key)] = now

    def reset(self) -> None:
        with self._lock:
            self._last_accepted.clear()


def too_frequent(threshold: float) -> ApiError:
    # The message names the published threshold, whatever --rate-limit-scale is.
    return ApiError(
        429, "rate_limit_exceeded", f"API requests too frequent endpoint threshold={threshold:.1f}"
    )
