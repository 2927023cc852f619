"""How one API call reaches Vast.ai and what its answer means.

:class:`Transport` turns ``(method, path, params, body)`` into a decoded JSON object or an error:

* every request goes out through a :data:`Send` function, ``(prepared request, timeout) -> response``.
  The default sends through one pooled ``requests.Session`` (Bearer auth header only, connect and read
  timeouts); a test passes its own and drives the whole client with no network, as httpx's transports
  allow;
* client-side pacing by each route's published threshold (scaled by ``VAST_PULUMI_PACING_SCALE``;
  ``0`` turns pacing off), learnt from the server's answers (:mod:`vast_pulumi._pacing`): a server
  that does not limit a route is used at full speed, a real limit costs about one 429 per doubling
  of the calls made under it, and pacing a random 429 switched on ends once the route answers again;
* retries with capped exponential backoff and full jitter on 429, 5xx and connection failures, within
  a bound on the total time of one call; the daily search quota's 429 (error code
  ``search_quota_exceeded``) is final at once, its message saying when the quota resets;
* non-idempotent creates (:attr:`Kind.CREATE`) are never repeated after the request may have reached
  the server: a dropped connection, a read timeout or any 5xx raises
  :class:`~vast_pulumi.errors.VastConnectionError` with ``outcome_unknown`` set, and the resource looks
  for what it tried to create;
* JSON decoding, and every failure (including HTTP 200 with ``"success": false``) as a
  :class:`~vast_pulumi.errors.VastApiError`.
"""

from __future__ import annotations

import datetime
import enum
import json
import logging
import os
import random
import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from vast_pulumi._pacing import Outcome, Pacer
from vast_pulumi._version import __version__
from vast_pulumi.errors import VastApiError, VastAuthError, VastConnectionError, is_auth_failure
from vast_pulumi.settings import ProviderSettings

if TYPE_CHECKING:
    # requests is imported where it is used: a no-change preview runs the provider without one API
    # call, and should not spend ~80 ms loading an HTTP stack it never uses.
    import requests

__all__ = [
    "LIST_REPLY",
    "PACING_SCALE_ENV",
    "ROUTE_INTERVALS",
    "SEARCH_QUOTA_ERROR",
    "ClientStats",
    "JsonObject",
    "Kind",
    "RetryPolicy",
    "Send",
    "Timeout",
    "Transport",
    "route_template",
    "session_send",
]

_log = logging.getLogger("vast_pulumi")

JsonObject = dict[str, Any]
# (connect, read) seconds, as requests takes them: a dead host should fail fast, a slow answer not.
Timeout = tuple[float, float]
# Sends one prepared request and returns the server's answer, or raises requests.RequestException.
Send = Callable[["requests.PreparedRequest", Timeout], "requests.Response"]

# Minimum seconds between two calls of one route, from the thresholds the API publishes
# (the x-rate-limit thresholds in Vast's OpenAPI spec). Routes not listed are not paced.
ROUTE_INTERVALS: Mapping[tuple[str, str], float] = {
    ("PUT", "/api/v0/asks/{id}/"): 4.5,
    ("GET", "/api/v0/instances/{id}/"): 2.0,
    ("PUT", "/api/v0/instances/{id}/"): 1.0,
    ("DELETE", "/api/v0/instances/{id}/"): 3.0,
    ("GET", "/api/v1/instances/"): 1.0,
    ("POST", "/api/v0/endptjobs/"): 4.0,
    ("GET", "/api/v0/endptjobs/"): 3.0,
    ("PUT", "/api/v0/endptjobs/{id}/"): 2.0,
    ("DELETE", "/api/v0/endptjobs/{id}/"): 3.0,
    ("POST", "/api/v0/workergroups/"): 4.0,
    ("GET", "/api/v0/workergroups/"): 2.0,
    ("PUT", "/api/v0/workergroups/{id}/"): 2.0,
    ("DELETE", "/api/v0/workergroups/{id}/"): 3.0,
    ("GET", "/api/v0/template/"): 3.0,
}
PACING_SCALE_ENV = "VAST_PULUMI_PACING_SCALE"
# The error code of the daily offer-search quota's 429, as the official client recognises it. The quota
# resets once a day (time in the X-RateLimit-Reset header): retrying only spends more of it.
SEARCH_QUOTA_ERROR = "search_quota_exceeded"
LIST_REPLY = "results"  # where a bare-array reply is put

_USER_AGENT = f"vast-pulumi/{__version__}"
_CONNECTION_POOL_SIZE = 64


class Kind(enum.Enum):
    """What a call does to the server, which decides whether it may be repeated."""

    READ = "read"  # repeatable, changes nothing
    WRITE = "write"  # repeatable (sets a state), invalidates list snapshots
    CREATE = "create"  # must not be repeated once it may have been applied


@dataclass(frozen=True)
class RetryPolicy:
    """How failed calls are retried: full-jitter exponential backoff within a total time bound."""

    # A short first wait: a fleet's calls each meet the odd fault, and the slowest of them sets the
    # fleet's time (a 1 s base made 16 instances under the resilience fault mix take ~2.4x the clean
    # run); rate limits are the pacer's business, not the backoff's. Twelve attempts keep about the
    # ~35 s of retrying the old 1 s base with ten gave against an outage.
    max_attempts: int = 12
    base_delay: float = 0.25
    max_delay: float = 10.0  # the API's rate-limit intervals are 1-4.5 s; longer waits only delay the error
    max_total: float = 300.0

    def delay(self, attempt: int) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (1-based)."""
        return random.uniform(0.0, min(self.max_delay, self.base_delay * 2 ** (attempt - 1)))


@dataclass(frozen=True)
class ClientStats:
    """Counters for tests and benchmarks: answers received, and retries made."""

    requests: int
    retries: int


class Transport:
    """Sends calls for one account and URL, paced, retried and decoded. Safe to share between threads."""

    def __init__(
        self,
        settings: ProviderSettings,
        *,
        pacing_scale: float | None = None,
        retry: RetryPolicy | None = None,
        connect_timeout: float = 10.0,
        read_timeout: float = 60.0,
        send: Send | None = None,
    ) -> None:
        self.settings = settings
        self.retry = retry or RetryPolicy()
        self.pacer = Pacer(ROUTE_INTERVALS, _pacing_scale() if pacing_scale is None else pacing_scale)
        self._timeout: Timeout = (connect_timeout, read_timeout)
        # The session prepares every request (its headers carry the key), whoever sends it.
        self._session = _new_session(settings.api_key)
        self._send = send or session_send(self._session)
        self._counter_lock = threading.Lock()
        self._requests = 0
        self._retries = 0
        # Whether the server ever answered: until it has, a refused connection or an unknown host is a
        # wrong URL, said at once; afterwards it may be a restart, and is retried.
        self._reached = False

    def stats(self) -> ClientStats:
        with self._counter_lock:
            return ClientStats(requests=self._requests, retries=self._retries)

    def call(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        body: Mapping[str, Any] | None = None,
        kind: Kind = Kind.READ,
        retry: RetryPolicy | None = None,
    ) -> JsonObject:
        """The decoded answer to one call, retried as ``retry`` (default: the transport's) and ``kind``
        allow; otherwise the last failure, as a :class:`~vast_pulumi.errors.VastApiError`."""
        retry = retry or self.retry
        deadline = time.monotonic() + retry.max_total
        query = {k: v if isinstance(v, str) else json.dumps(v) for k, v in (params or {}).items()}
        attempt = 0
        while True:
            attempt += 1
            answer = self._attempt(method, path, query, body)
            if not isinstance(answer, _Failure):
                return answer
            failure = _final_form(answer.error, kind)
            if not _is_retryable(failure, kind):
                raise failure
            delay = max(retry.delay(attempt), answer.retry_after or 0.0)
            if attempt >= retry.max_attempts or time.monotonic() + delay > deadline:
                raise failure
            self._count(retries=1)
            _log.warning(
                "vast: %s %s: %s; retry %d of %d in %.1f s",
                method,
                path,
                _short_reason(failure),
                attempt,
                retry.max_attempts - 1,
                delay,
            )
            time.sleep(delay)

    def _attempt(
        self, method: str, path: str, query: Mapping[str, str], body: Mapping[str, Any] | None
    ) -> JsonObject | _Failure:
        """One request, sent when the pacer gives it its turn; its answer is reported back to the pacer."""
        import requests

        turn = self.pacer.wait_turn(method, route_template(path))
        outcome = Outcome.OTHER
        try:
            # Prepared at each attempt, as Session.request prepares it (the session's headers and cookies).
            request = self._session.prepare_request(
                requests.Request(method, self.settings.api_url + path, data={}, json=body, params=query)
            )
            response = self._send(request, self._timeout)
        except requests.RequestException as exc:
            return _Failure(_connection_failure(method, path, exc, self.settings, reached=self._reached))
        else:
            self._reached = True
            self._count(requests=1)
            outcome = _pacing_outcome(response.status_code)
            try:
                return _decode(method, path, response, self.settings.api_key_source)
            except VastApiError as error:
                return _Failure(_with_quota_reset(error, response), _retry_after_seconds(response))
        finally:
            self.pacer.report(turn, outcome)

    def _count(self, *, requests: int = 0, retries: int = 0) -> None:
        with self._counter_lock:
            self._requests += requests
            self._retries += retries


@dataclass(frozen=True)
class _Failure:
    """An attempt that got no usable answer, and how long the server asked us to wait (``Retry-After``)."""

    error: VastApiError
    retry_after: float | None = None


def route_template(path: str) -> str:
    """``/api/v0/instances/123/`` -> ``/api/v0/instances/{id}/`` (the key of pacing and log lines)."""
    return re.sub(r"/\d+(?=/|$)", "/{id}", path.split("?", 1)[0])


def _pacing_scale() -> float:
    raw = os.environ.get(PACING_SCALE_ENV, "").strip()
    try:
        return max(0.0, float(raw)) if raw else 1.0
    except ValueError:
        _log.warning("vast: ignoring %s=%r (not a number)", PACING_SCALE_ENV, raw)
        return 1.0


# -- sending ----------------------------------------------------------------------------------------------


def _new_session(api_key: str) -> requests.Session:
    import requests
    from requests.adapters import HTTPAdapter

    session = requests.Session()
    adapter = HTTPAdapter(pool_connections=4, pool_maxsize=_CONNECTION_POOL_SIZE, max_retries=0)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    session.headers.update(
        {"Authorization": f"Bearer {api_key}", "Accept": "application/json", "User-Agent": _USER_AGENT}
    )
    return session


def session_send(session: requests.Session) -> Send:
    """The default :data:`Send`: through ``session``'s connection pool, with the proxy and CA bundle
    settings the environment names, as ``Session.request`` sends."""

    def send(request: requests.PreparedRequest, timeout: Timeout) -> requests.Response:
        environment = session.merge_environment_settings(request.url, {}, None, None, None)
        return session.send(request, timeout=timeout, allow_redirects=True, **environment)

    return send


# -- what an answer means -----------------------------------------------------------------------------------


def _pacing_outcome(status: int) -> Outcome:
    """What an answer says about the route's rate limit: a 429 is the limit; any other answer of the
    API itself (a 400 "No endpoints for user found" too) got past it; a 5xx may come from before it."""
    if status == 429:
        return Outcome.LIMITED
    return Outcome.ACCEPTED if status < 500 else Outcome.OTHER


def _decode(method: str, path: str, response: requests.Response, key_source: str = "") -> JsonObject:
    try:
        payload: Any = response.json()
    except ValueError:
        payload = None
    details = payload if isinstance(payload, dict) else {}
    error = details.get("error") if isinstance(details.get("error"), str) else None
    msg = _message(details, response.text)
    if is_auth_failure(response.status_code, error, msg):
        raise VastAuthError(
            method=method, path=path, status=response.status_code, error=error, msg=msg, key_source=key_source
        )
    if not response.ok or details.get("success") is False:
        raise VastApiError(
            method=method,
            path=path,
            status=response.status_code,
            error=error,
            msg=msg,
            made_id=_positive_int(details.get("new_contract")),
        )
    if isinstance(payload, list):
        return {LIST_REPLY: payload}  # some routes answer a bare array (GET /api/v0/ssh/)
    if payload is None or not isinstance(payload, dict):
        raise VastApiError(
            method=method, path=path, status=response.status_code, msg="the response is not a JSON object"
        )
    return payload


def _positive_int(value: Any) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int | str):
        return None
    try:
        number = int(value)
    except ValueError:
        return None
    return number if number > 0 else None


def _message(details: Mapping[str, Any], text: str) -> str:
    for key in ("msg", "message", "detail"):
        value = details.get(key)
        if isinstance(value, str) and value:
            return value
    if details:
        return ""
    return " ".join(text.split())[:300]


def _connection_failure(
    method: str, path: str, exc: requests.RequestException, settings: ProviderSettings, *, reached: bool
) -> VastConnectionError:
    unreachable = _nothing_listens(exc)
    return VastConnectionError(
        method=method,
        path=path,
        reason=unreachable or _describe_exception(exc),
        outcome_unknown=_may_have_been_sent(exc),
        url=settings.api_url,
        url_source=settings.api_url_source,
        unreachable=bool(unreachable) and not reached,
        fix=settings.url_fix(),
    )


def _nothing_listens(exc: requests.RequestException) -> str:
    """ "connection refused" or "unknown host" when that is why no connection was made, else ""."""
    import urllib3.exceptions

    cause = exc.args[0] if exc.args else None
    cause = getattr(cause, "reason", cause)  # urllib3's MaxRetryError wraps the real reason
    if isinstance(cause, urllib3.exceptions.NameResolutionError):
        return "unknown host"
    if isinstance(cause, urllib3.exceptions.NewConnectionError) and isinstance(
        cause.__context__, ConnectionRefusedError
    ):
        return "connection refused"
    return ""


def _may_have_been_sent(exc: requests.RequestException) -> bool:
    """False only when we know the request never left: the connection could not be established."""
    import requests
    import urllib3.exceptions

    if isinstance(exc, requests.ConnectTimeout):
        return False
    if isinstance(exc, requests.ConnectionError):
        cause = exc.args[0] if exc.args else None
        cause = getattr(cause, "reason", cause)  # urllib3's MaxRetryError wraps the real reason
        never_connected = (urllib3.exceptions.NewConnectionError, urllib3.exceptions.ConnectTimeoutError)
        return not isinstance(cause, never_connected)
    return True


def _describe_exception(exc: requests.RequestException) -> str:
    import requests

    if isinstance(exc, requests.ConnectTimeout):
        return "connect timeout"
    if isinstance(exc, requests.ReadTimeout):
        return "read timeout"
    if isinstance(exc, requests.ConnectionError):
        return "connection failed" if not _may_have_been_sent(exc) else "connection dropped"
    return type(exc).__name__


def _final_form(failure: VastApiError, kind: Kind) -> VastApiError:
    # Any 5xx may come after the server applied the request (a 500 after a committed rent, a gateway
    # that lost the upstream's answer): for a create, that is an unknown outcome, never safe to repeat.
    if kind is Kind.CREATE and failure.status is not None and failure.status >= 500:
        return VastConnectionError(
            method=failure.method,
            path=failure.path,
            reason=" ".join(str(part) for part in (failure.status, failure.error) if part),
            outcome_unknown=True,
            status=failure.status,
        )
    return failure


def _is_retryable(failure: VastApiError, kind: Kind) -> bool:
    if isinstance(failure, VastConnectionError):
        # Retries are for a reachable server's bad moments, not for a URL where nothing listens.
        return not failure.unreachable and not (failure.outcome_unknown and kind is Kind.CREATE)
    if failure.status == 429:
        return failure.error != SEARCH_QUOTA_ERROR
    # A 5xx to a create may come after the server applied it: an unknown outcome, never repeated.
    return failure.status is not None and failure.status >= 500 and kind is not Kind.CREATE


def _with_quota_reset(error: VastApiError, response: requests.Response) -> VastApiError:
    """The daily search quota's 429, its message saying when the quota resets; other errors as they are."""
    if error.status != 429 or error.error != SEARCH_QUOTA_ERROR:
        return error
    reset = _reset_time(response.headers.get("X-RateLimit-Reset"))
    when = f"{reset:%Y-%m-%d %H:%M} UTC" if reset else "the next UTC midnight"
    reason = error.msg or "daily search quota exceeded"
    return VastApiError(
        method=error.method,
        path=error.path,
        status=429,
        error=error.error,
        msg=f"{reason}; the daily offer-search quota resets at {when} (not retried: retries spend it)",
    )


def _reset_time(value: str | None) -> datetime.datetime | None:
    """``X-RateLimit-Reset``: epoch seconds."""
    try:
        return datetime.datetime.fromtimestamp(int(value or ""), datetime.UTC)
    except (ValueError, OverflowError, OSError):
        return None


def _retry_after_seconds(response: requests.Response) -> float | None:
    value = response.headers.get("Retry-After")
    try:
        return max(0.0, float(value)) if value else None
    except ValueError:
        return None  # an HTTP date; Vast never sends one


def _short_reason(failure: VastApiError) -> str:
    if isinstance(failure, VastConnectionError):
        return failure.reason
    return " ".join(str(part) for part in (failure.status, failure.error) if part)
