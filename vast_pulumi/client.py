"""The package's only path to the Vast.ai API.

Everything about transport lives here, so the resource modules only speak in typed calls
(``create_endpoint``, ``get_instance``, ...):

* one ``requests.Session`` per account and URL (see :func:`shared_client`), Bearer auth header only,
  connect and read timeouts;
* client-side pacing by each route's published threshold (scaled by ``VAST_PULUMI_PACING_SCALE``;
  ``0`` turns pacing off), learnt from the server's answers (:mod:`vast_pulumi._pacing`): a server
  that does not limit a route is used at full speed, a real limit costs about one 429 per doubling
  of the calls made under it, and pacing a random 429 switched on ends once the route answers again;
* retries with capped exponential backoff and full jitter on 429, 5xx and connection failures, within
  a bound on the total time of one call; the daily search quota's 429 (error code
  ``search_quota_exceeded``) is final at once, its message saying when the quota resets;
* non-idempotent creates (POST, ``PUT /asks/``) are never repeated after the request may have reached
  the server: a dropped connection, a read timeout or any 5xx raises
  :class:`~vast_pulumi.errors.VastConnectionError` with ``outcome_unknown`` set, and the resource looks
  for what it tried to create;
* JSON decoding, and every failure (including HTTP 200 with ``"success": false``) as a
  :class:`~vast_pulumi.errors.VastApiError`;
* short-lived, single-flight snapshots of the account's instance, endpoint and workergroup lists, so a
  refresh of many resources or many readiness waits share one list call; any write made through the
  client invalidates them.
"""

from __future__ import annotations

import datetime
import enum
import json
import logging
import math
import os
import random
import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from vast_pulumi import __version__
from vast_pulumi._pacing import Outcome, Pacer
from vast_pulumi.errors import VastApiError, VastAuthError, VastConnectionError, is_auth_failure
from vast_pulumi.settings import ProviderSettings

if TYPE_CHECKING:
    # requests is imported where it is used: a no-change preview runs the provider without one API
    # call, and should not spend ~80 ms loading an HTTP stack it never uses.
    import requests

__all__ = ["ClientStats", "EndpointDeletion", "RetryPolicy", "VastClient", "shared_client"]

_log = logging.getLogger("vast_pulumi")

Row = dict[str, Any]

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
INSTANCES_PAGE_SIZE = 25  # the API's maximum page size for /api/v1/instances/
SNAPSHOT_MAX_AGE = 5.0  # seconds a list snapshot may be reused by reads
# The error code of the daily offer-search quota's 429, as the official client recognises it. The quota
# resets once a day (time in the X-RateLimit-Reset header): retrying only spends more of it.
SEARCH_QUOTA_ERROR = "search_quota_exceeded"

_USER_AGENT = f"vast-pulumi/{__version__}"
_LIST_REPLY = "results"  # where a bare-array reply is put
_CONNECTION_POOL_SIZE = 64


class _Kind(enum.Enum):
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
    """Counters for tests and benchmarks."""

    requests: int
    retries: int


@dataclass(frozen=True)
class EndpointDeletion:
    """What an endpoint delete did to the workers attached to it: instance ids."""

    deleted_workers: list[int]
    failed_workers: list[int]


class VastClient:
    """Typed calls to the Vast.ai API. Safe to share between threads."""

    def __init__(
        self,
        settings: ProviderSettings,
        *,
        pacing_scale: float | None = None,
        retry: RetryPolicy | None = None,
        connect_timeout: float = 10.0,
        read_timeout: float = 60.0,
    ) -> None:
        self.settings = settings
        self._retry = retry or RetryPolicy()
        self._timeout = (connect_timeout, read_timeout)
        self._pacer = Pacer(ROUTE_INTERVALS, _pacing_scale() if pacing_scale is None else pacing_scale)
        self._session = _new_session(settings.api_key)
        self._counter_lock = threading.Lock()
        self._requests = 0
        self._retries = 0
        self._instances = _Snapshot(self.list_instances)
        self._endpoints = _Snapshot(self.list_endpoints)
        self._workergroups = _Snapshot(self.list_workergroups)
        self._account_lock = threading.Lock()
        self._account_id: int | None = None

    def __repr__(self) -> str:
        return f"VastClient({self.settings.api_url!r})"

    def stats(self) -> ClientStats:
        with self._counter_lock:
            return ClientStats(requests=self._requests, retries=self._retries)

    # -- the account -------------------------------------------------------------------------------

    def account_id(self) -> int:
        """The id of the account the key belongs to (``GET /api/v0/users/current/``), asked once."""
        with self._account_lock:  # concurrent first callers wait for the one call
            if self._account_id is None:
                reply = self._call("GET", "/api/v0/users/current/")
                self._account_id = _new_id(reply, "GET /api/v0/users/current/", "id")
            return self._account_id

    # -- endpoints (/api/v0/endptjobs/) -------------------------------------------------------------

    def create_endpoint(self, body: Mapping[str, Any]) -> int:
        reply = self._call("POST", "/api/v0/endptjobs/", body=body, kind=_Kind.CREATE)
        return _new_id(reply, "POST /api/v0/endptjobs/", "result", "id")

    def get_endpoint(self, endpoint_id: int) -> Row | None:
        try:
            reply = self._call("GET", f"/api/v0/endptjobs/{endpoint_id}/")
        except VastApiError as error:
            if error.is_not_found:
                return None
            raise
        row = reply.get("result")
        return row if isinstance(row, dict) else None

    def list_endpoints(self) -> list[Row]:
        try:
            reply = self._call("GET", "/api/v0/endptjobs/")
        except VastApiError as error:
            # A user without endpoints may get 400 "No endpoints for user found" (an example in Vast's
            # OpenAPI spec).
            if error.status == 400 and "no endpoints" in error.msg.lower():
                return []
            raise
        return _rows(reply, "results")

    def cached_endpoints(self, max_age: float | None = None) -> list[Row]:
        """The endpoint list, from a snapshot at most ``max_age`` old and newer than our last write."""
        return self._endpoints.get(SNAPSHOT_MAX_AGE if max_age is None else max_age)

    def update_endpoint(self, endpoint_id: int, body: Mapping[str, Any]) -> None:
        self._call("PUT", f"/api/v0/endptjobs/{endpoint_id}/", body=body, kind=_Kind.WRITE)

    def delete_endpoint(self, endpoint_id: int) -> EndpointDeletion | None:
        """Delete an endpoint; server-side, its workergroups go too, and the workers still attached to
        them are destroyed (the answer lists those it destroyed and those it could not). ``None`` if
        the endpoint was already gone."""
        try:
            reply = self._call("DELETE", f"/api/v0/endptjobs/{endpoint_id}/", body={}, kind=_Kind.WRITE)
        except VastApiError as error:
            if error.is_not_found:
                return None
            raise
        return EndpointDeletion(_ids(reply.get("deleted_workers")), _ids(reply.get("failed_workers")))

    # -- workergroups (/api/v0/workergroups/; there is no single-object GET) --------------------------

    def create_workergroup(self, body: Mapping[str, Any]) -> int:
        reply = self._call("POST", "/api/v0/workergroups/", body=body, kind=_Kind.CREATE)
        return _new_id(reply, "POST /api/v0/workergroups/", "id", "result")

    def list_workergroups(self) -> list[Row]:
        return _rows(self._call("GET", "/api/v0/workergroups/"), "results")

    def cached_workergroups(self, max_age: float | None = None) -> list[Row]:
        return self._workergroups.get(SNAPSHOT_MAX_AGE if max_age is None else max_age)

    def update_workergroup(self, workergroup_id: int, body: Mapping[str, Any]) -> None:
        self._call("PUT", f"/api/v0/workergroups/{workergroup_id}/", body=body, kind=_Kind.WRITE)

    def delete_workergroup(self, workergroup_id: int) -> bool:
        return self._delete(f"/api/v0/workergroups/{workergroup_id}/")

    # -- offers ------------------------------------------------------------------------------------------

    def search_offers(self, query: Mapping[str, Any]) -> list[Row]:
        """Offers matching a query dict (``{field: {op: value}, "order": ..., ...}``).

        ``POST /api/v0/bundles/`` with the dict as body, as the official client sends it (a GET with
        ``?q=`` is only evidenced by old clients). A search changes nothing: it is a read here.
        """
        return _rows(self._call("POST", "/api/v0/bundles/", body=dict(query)), "offers")

    # -- instances ---------------------------------------------------------------------------------------

    def create_instance(self, offer_id: int, body: Mapping[str, Any]) -> Row:
        """Rent offer ``offer_id``; the reply carries ``new_contract`` (the instance id)."""
        return self._call("PUT", f"/api/v0/asks/{offer_id}/", body=body, kind=_Kind.CREATE)

    def get_instance(self, instance_id: int) -> Row | None:
        try:
            reply = self._call("GET", f"/api/v0/instances/{instance_id}/", params={"owner": "me"})
        except VastApiError as error:
            if error.is_not_found:
                return None
            raise
        row = reply.get("instances")  # a destroyed instance reads as {"instances": null}
        return row if isinstance(row, dict) and row else None

    def list_instances(self, retry: RetryPolicy | None = None) -> list[Row]:
        """All of the account's instances, paging ``/api/v1/instances/`` 25 at a time."""
        rows: list[Row] = []
        token: str | None = None
        seen_tokens: set[str] = set()
        while True:
            params: dict[str, Any] = {"limit": INSTANCES_PAGE_SIZE}
            if token:
                params["after_token"] = token
            reply = self._call("GET", "/api/v1/instances/", params=params, retry=retry)
            rows.extend(_rows(reply, "instances"))
            token = reply.get("next_token")
            if not token or token in seen_tokens:
                return rows
            seen_tokens.add(token)

    def cached_instances(self, max_age: float | None = None) -> list[Row]:
        """The instance list, from a snapshot at most ``max_age`` old and newer than our last write.

        Concurrent callers share one fetch (single flight), so N readers or N readiness waits cost
        one paged list call per ``max_age`` instead of N single GETs.
        """
        return self._instances.get(SNAPSHOT_MAX_AGE if max_age is None else max_age)

    def next_instances(self, seen: float, spacing: float) -> tuple[float, list[Row]]:
        """The instance list from a fetch that started after ``seen`` (monotonic seconds), and when it
        started; pass that back as ``seen`` for the next one.

        Fetches for these callers are at least ``spacing`` apart and shared: however many readiness
        waits run, the account's list is read once per ``spacing``, and each wait sees every fetch.
        """
        # A failed read is retried within the interval, not after a growing backoff: every wait of the
        # process is waiting for this one read, and the next would come that soon anyway.
        retry = RetryPolicy(
            max_attempts=max(self._retry.max_attempts, math.ceil(self._retry.max_total / spacing)),
            base_delay=min(self._retry.base_delay, spacing),
            max_delay=min(self._retry.max_delay, spacing),
            max_total=self._retry.max_total,
        )
        return self._instances.next_after(seen, spacing, lambda: self.list_instances(retry))

    def update_instance_state(self, instance_id: int, state: str) -> None:
        self._call("PUT", f"/api/v0/instances/{instance_id}/", body={"state": state}, kind=_Kind.WRITE)

    def label_instance(self, instance_id: int, label: str) -> None:
        self._call("PUT", f"/api/v0/instances/{instance_id}/", body={"label": label}, kind=_Kind.WRITE)

    def update_instance_template(self, instance_id: int, body: Mapping[str, Any]) -> None:
        """Change image, env, onstart, args or template; the instance is recreated on its machine."""
        path = f"/api/v0/instances/update_template/{instance_id}/"
        self._call("PUT", path, body={"id": instance_id, **body}, kind=_Kind.WRITE)

    def change_bid(self, instance_id: int, price: float) -> None:
        """Set an interruptible instance's bid ($/hour), with the official client's body."""
        path = f"/api/v0/instances/bid_price/{instance_id}/"
        self._call("PUT", path, body={"client_id": "me", "price": price}, kind=_Kind.WRITE)

    def destroy_instance(self, instance_id: int) -> bool:
        """Destroy an instance; ``False`` if it was already gone."""
        return self._delete(f"/api/v0/instances/{instance_id}/")

    def instance_ssh_keys(self, instance_id: int) -> list[Row]:
        """The keys on an instance (``GET /api/v0/instances/{id}/ssh/``: a JSON *string* of rows)."""
        raw = self._call("GET", f"/api/v0/instances/{instance_id}/ssh/").get("ssh_keys")
        if isinstance(raw, str):
            try:
                raw = json.loads(raw)
            except ValueError:
                raw = None
        return [row for row in raw if isinstance(row, dict)] if isinstance(raw, list) else []

    def attach_ssh_key(self, instance_id: int, public_key: str) -> None:
        """Put a public key on an instance (the route takes the key's text, not its id)."""
        body = {"ssh_key": public_key}
        self._call("POST", f"/api/v0/instances/{instance_id}/ssh/", body=body, kind=_Kind.WRITE)

    def detach_ssh_key(self, instance_id: int, key_id: int) -> bool:
        """Take a key off an instance; ``False`` if it was not on it."""
        return self._delete(f"/api/v0/instances/{instance_id}/ssh/{key_id}/")

    # -- the account (/api/v0/users/current/) --------------------------------------------------------

    def current_user(self) -> Row:
        """The account the key belongs to: id, balance, credit, ..."""
        return self._call("GET", "/api/v0/users/current/")

    # -- templates (/api/v0/template/; id is stable, hash_id names a version) ------------------------

    def create_template(self, body: Mapping[str, Any]) -> Row:
        """The new template's row. The API answers an identical template of the account's instead of
        making another (``msg`` "Existing template found")."""
        reply = self._call("POST", "/api/v0/template/", body=body, kind=_Kind.CREATE)
        row = reply.get("template")
        if not isinstance(row, dict) or _new_id(row, "POST /api/v0/template/", "id") <= 0:
            raise VastApiError(
                method="POST", path="/api/v0/template/", status=200, msg="no template in reply"
            )
        return row

    def search_templates(self, filters: Mapping[str, Any]) -> list[Row]:
        """Templates visible to the account (its own and public ones) matching ``select_filters``."""
        params = {"select_cols": ["*"], "select_filters": dict(filters)}
        return _rows(self._call("GET", "/api/v0/template/", params=params), "templates")

    def get_template(self, template_id: int) -> Row | None:
        rows = [
            row for row in self.search_templates({"id": {"eq": template_id}}) if row.get("id") == template_id
        ]
        return rows[0] if rows else None

    def update_template(self, body: Mapping[str, Any]) -> Row:
        """Edit a template (``id`` and ``hash_id`` name it; the whole content is sent): the reply's row
        carries the new ``hash_id``. ``PUT /api/v1/template/``, as the official client sends it."""
        reply = self._call("PUT", "/api/v1/template/", body=body, kind=_Kind.WRITE)
        row = reply.get("template")
        if not isinstance(row, dict):
            raise VastApiError(method="PUT", path="/api/v1/template/", status=200, msg="no template in reply")
        return row

    def delete_template(self, template_id: int) -> bool:
        """Delete a template; ``False`` if it was already gone."""
        try:
            self._call("DELETE", "/api/v0/template/", body={"template_id": template_id}, kind=_Kind.WRITE)
        except VastApiError as error:
            if error.is_not_found:
                return False
            raise
        return True

    # -- SSH keys (/api/v0/ssh/) -----------------------------------------------------------------------

    def create_ssh_key(self, public_key: str) -> Row:
        reply = self._call("POST", "/api/v0/ssh/", body={"ssh_key": public_key}, kind=_Kind.CREATE)
        row = reply.get("key")
        if not isinstance(row, dict):
            raise VastApiError(method="POST", path="/api/v0/ssh/", status=200, msg="no key in reply")
        _new_id(row, "POST /api/v0/ssh/", "id")
        return row

    def list_ssh_keys(self) -> list[Row]:
        """The account's keys; the list names the key text ``key`` (the create's reply ``public_key``)."""
        return _rows(self._call("GET", "/api/v0/ssh/"), _LIST_REPLY)

    def update_ssh_key(self, key_id: int, public_key: str) -> None:
        body = {"id": key_id, "ssh_key": public_key}
        self._call("PUT", f"/api/v0/ssh/{key_id}/", body=body, kind=_Kind.WRITE)

    def delete_ssh_key(self, key_id: int) -> bool:
        """Delete an account key; ``False`` if it was already gone (400 ``no_ssh_key``)."""
        try:
            self._call("DELETE", f"/api/v0/ssh/{key_id}/", kind=_Kind.WRITE)
        except VastApiError as error:
            if error.is_not_found or error.error == "no_ssh_key":
                return False
            raise
        return True

    # -- account env vars (/api/v0/secrets/) --------------------------------------------------------

    def list_env_vars(self) -> dict[str, str]:
        """Name -> value (the API sends values in clear; the caller keeps them secret)."""
        secrets = self._call("GET", "/api/v0/secrets/").get("secrets")
        return {str(k): str(v) for k, v in secrets.items()} if isinstance(secrets, dict) else {}

    def create_env_var(self, name: str, value: str) -> None:
        self._call("POST", "/api/v0/secrets/", body={"key": name, "value": value}, kind=_Kind.CREATE)

    def update_env_var(self, name: str, value: str) -> None:
        self._call("PUT", "/api/v0/secrets/", body={"key": name, "value": value}, kind=_Kind.WRITE)

    def delete_env_var(self, name: str) -> bool:
        """Delete an env var; ``False`` if there was none of that name (400 ``nonexistent_key``)."""
        try:
            self._call("DELETE", "/api/v0/secrets/", body={"key": name}, kind=_Kind.WRITE)
        except VastApiError as error:
            if error.is_not_found or error.error == "nonexistent_key":
                return False
            raise
        return True

    # -- volumes (/api/v0/volumes/) -------------------------------------------------------------------

    def search_volume_offers(self, query: Mapping[str, Any]) -> list[Row]:
        """Volume offers; the body is the query dict with ``order``, ``limit``, ``allocated_storage``."""
        return _rows(self._call("POST", "/api/v0/volumes/search/", body=dict(query)), "offers")

    def create_volume(self, offer_id: int, size: int, name: str | None) -> int:
        """Rent ``size`` GB of a volume offer; the new volume's id (the reply names it ``V.<id>``)."""
        body: dict[str, Any] = {"id": offer_id, "size": size}
        if name is not None:
            body["name"] = name
        reply = self._call("PUT", "/api/v0/volumes/", body=body, kind=_Kind.CREATE)
        name_of = str(reply.get("volume_name") or "")
        if not re.fullmatch(r"V\.\d+", name_of):
            raise VastApiError(
                method="PUT", path="/api/v0/volumes/", status=200, msg="no volume_name in reply"
            )
        return int(name_of[2:])

    def list_volumes(self) -> list[Row]:
        return _rows(
            self._call("GET", "/api/v0/volumes/", params={"owner": "me", "type": "local_volume"}), "volumes"
        )

    def delete_volume(self, volume_id: int) -> bool:
        """Delete a volume (``?id=``, as the official client sends it); ``False`` if already gone."""
        try:
            self._call("DELETE", "/api/v0/volumes/", params={"id": volume_id}, kind=_Kind.WRITE)
        except VastApiError as error:
            if error.is_not_found:
                return False
            raise
        return True

    # -- transport ---------------------------------------------------------------------------------------

    def _delete(self, path: str) -> bool:
        try:
            self._call("DELETE", path, body={}, kind=_Kind.WRITE)
        except VastApiError as error:
            if error.is_not_found:
                return False
            raise
        return True

    def _call(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        body: Mapping[str, Any] | None = None,
        kind: _Kind = _Kind.READ,
        retry: RetryPolicy | None = None,
    ) -> Row:
        try:
            return self._call_with_retries(method, path, params, body, kind, retry or self._retry)
        finally:
            if kind is not _Kind.READ:
                # Whatever the outcome, the server may have changed: later reads must see fresh lists.
                for snapshot in (self._instances, self._endpoints, self._workergroups):
                    snapshot.invalidate()

    def _call_with_retries(
        self,
        method: str,
        path: str,
        params: Mapping[str, Any] | None,
        body: Mapping[str, Any] | None,
        kind: _Kind,
        retry: RetryPolicy,
    ) -> Row:
        import requests

        route = route_template(path)
        deadline = time.monotonic() + retry.max_total
        url = self.settings.api_url + path
        query = {k: v if isinstance(v, str) else json.dumps(v) for k, v in (params or {}).items()}
        attempt = 0
        while True:
            attempt += 1
            turn = self._pacer.wait_turn(method, route)
            outcome = Outcome.OTHER
            retry_after: float | None = None
            try:
                response = self._session.request(method, url, params=query, json=body, timeout=self._timeout)
            except requests.RequestException as exc:
                failure: VastApiError = _connection_failure(method, path, exc)
            else:
                self._count(requests=1)
                outcome = _pacing_outcome(response.status_code)
                try:
                    return _decode(method, path, response)
                except VastApiError as error:
                    failure = _with_quota_reset(error, response)
                retry_after = _retry_after_seconds(response)
            finally:
                self._pacer.report(turn, outcome)
            failure = _final_form(failure, kind)
            if not _is_retryable(failure, kind):
                raise failure
            delay = max(retry.delay(attempt), retry_after or 0.0)
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

    def _count(self, *, requests: int = 0, retries: int = 0) -> None:
        with self._counter_lock:
            self._requests += requests
            self._retries += retries


# -- shared clients ---------------------------------------------------------------------------------------

_clients: dict[ProviderSettings, VastClient] = {}
_clients_lock = threading.Lock()


def shared_client(settings: ProviderSettings) -> VastClient:
    """The process-wide client for one account and URL.

    Sharing matters: the API's rate limits are per identity, so pacing, list snapshots and the
    connection pool must be common to every resource of every type in the process.
    """
    with _clients_lock:
        client = _clients.get(settings)
        if client is None:
            client = _clients[settings] = VastClient(settings)
        return client


# -- helpers ------------------------------------------------------------------------------------------------


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


def _pacing_outcome(status: int) -> Outcome:
    """What an answer says about the route's rate limit: a 429 is the limit; any other answer of the
    API itself (a 400 "No endpoints for user found" too) got past it; a 5xx may come from before it."""
    if status == 429:
        return Outcome.LIMITED
    return Outcome.ACCEPTED if status < 500 else Outcome.OTHER


def _decode(method: str, path: str, response: requests.Response) -> Row:
    try:
        payload: Any = response.json()
    except ValueError:
        payload = None
    details = payload if isinstance(payload, dict) else {}
    error = details.get("error") if isinstance(details.get("error"), str) else None
    msg = _message(details, response.text)
    if is_auth_failure(response.status_code, error, msg):
        raise VastAuthError(method=method, path=path, status=response.status_code, error=error, msg=msg)
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
        return {_LIST_REPLY: payload}  # some routes answer a bare array (GET /api/v0/ssh/)
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


def _connection_failure(method: str, path: str, exc: requests.RequestException) -> VastConnectionError:
    return VastConnectionError(
        method=method,
        path=path,
        reason=_describe_exception(exc),
        outcome_unknown=_may_have_been_sent(exc),
    )


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


def _final_form(failure: VastApiError, kind: _Kind) -> VastApiError:
    # Any 5xx may come after the server applied the request (a 500 after a committed rent, a gateway
    # that lost the upstream's answer): for a create, that is an unknown outcome, never safe to repeat.
    if kind is _Kind.CREATE and failure.status is not None and failure.status >= 500:
        return VastConnectionError(
            method=failure.method,
            path=failure.path,
            reason=" ".join(str(part) for part in (failure.status, failure.error) if part),
            outcome_unknown=True,
            status=failure.status,
        )
    return failure


def _is_retryable(failure: VastApiError, kind: _Kind) -> bool:
    if isinstance(failure, VastConnectionError):
        return not (failure.outcome_unknown and kind is _Kind.CREATE)
    if failure.status == 429:
        return failure.error != SEARCH_QUOTA_ERROR
    # A 5xx to a create may come after the server applied it: an unknown outcome, never repeated.
    return failure.status is not None and failure.status >= 500 and kind is not _Kind.CREATE


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


def _new_id(reply: Row, call: str, *keys: str) -> int:
    """The new object's id, under whichever key this route uses. Sources disagree: Vast's OpenAPI spec
    and SDK say ``result`` for endpoints and ``id`` for workergroups, a CLI test mock and the
    deprecated docs the reverse."""
    for key in keys:
        value = reply.get(key)
        if isinstance(value, int) or (isinstance(value, str) and value.isdigit()):
            return int(value)
    method, path = call.split(" ", 1)
    raise VastApiError(method=method, path=path, status=200, msg=f"the reply carries no id ({sorted(reply)})")


def _ids(value: Any) -> list[int]:
    """A reply's list of ids (absent or malformed: none)."""
    if not isinstance(value, list):
        return []
    return [int(item) for item in value if isinstance(item, int | str) and str(item).isdigit()]


def _rows(reply: Row, key: str) -> list[Row]:
    rows = reply.get(key)
    return [row for row in rows if isinstance(row, dict)] if isinstance(rows, list) else []


@dataclass
class _Flight:
    """One fetch of a list, which any number of threads may wait for."""

    started: float
    done: threading.Event = field(default_factory=threading.Event)
    rows: list[Row] | None = None
    error: BaseException | None = None


class _Snapshot:
    """A short-lived, single-flight cache of one list call.

    A caller accepts a result fetched at most ``max_age`` seconds ago and after the last invalidation;
    if a fetch satisfying that is already running, it waits for it instead of starting another.
    """

    def __init__(self, fetch: Callable[[], list[Row]]) -> None:
        self._fetch = fetch
        self._lock = threading.Lock()
        self._latest: _Flight | None = None
        self._running: _Flight | None = None
        self._invalidated_at = float("-inf")

    def invalidate(self) -> None:
        with self._lock:
            self._invalidated_at = time.monotonic()

    def get(self, max_age: float) -> list[Row]:
        with self._lock:
            now = time.monotonic()
            oldest_acceptable = max(now - max_age, self._invalidated_at)
            latest, running = self._latest, self._running
            if latest is not None and latest.rows is not None and latest.started >= oldest_acceptable:
                return list(latest.rows)
            if running is not None and now >= running.started >= oldest_acceptable:
                flight, leader = running, False
            else:
                flight, leader = _Flight(started=now), True
                self._running = flight
        if leader:
            self._run(flight)
        flight.done.wait()
        if flight.error is not None:
            raise flight.error
        return list(flight.rows or [])

    def next_after(
        self, seen: float, spacing: float, fetch: Callable[[], list[Row]] | None = None
    ) -> tuple[float, list[Row]]:
        """Rows from a fetch started after ``seen``, and its start. A fetch for these callers starts
        ``spacing`` after the latest one at the earliest; callers that arrive before it join it."""
        with self._lock:
            latest, running = self._latest, self._running
            if latest is not None and latest.rows is not None and latest.started > seen:
                return latest.started, list(latest.rows)
            if running is not None and running.started > seen:
                flight, leader = running, False
            else:
                earliest = latest.started + spacing if latest is not None else seen
                flight, leader = _Flight(started=max(time.monotonic(), earliest)), True
                self._running = flight
        if leader:
            time.sleep(max(0.0, flight.started - time.monotonic()))
            self._run(flight, fetch)
        flight.done.wait()
        if flight.error is not None:
            raise flight.error
        return flight.started, list(flight.rows or [])

    def _run(self, flight: _Flight, fetch: Callable[[], list[Row]] | None = None) -> None:
        try:
            flight.rows = (fetch or self._fetch)()
        except BaseException as error:
            flight.error = error
        with self._lock:
            if self._running is flight:
                self._running = None
            if flight.rows is not None and (self._latest is None or flight.started > self._latest.started):
                self._latest = flight
        flight.done.set()
