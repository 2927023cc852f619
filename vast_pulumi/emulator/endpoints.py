"""Serverless endpoints (``/api/v0/endptjobs/``): rows, defaults, not-found answers."""

from __future__ import annotations

import secrets
from dataclasses import asdict
from typing import Any

from vast_pulumi.emulator import autoscaler
from vast_pulumi.emulator.errors import ApiError
from vast_pulumi.emulator.models import Account, Endpoint, JsonDict, State
from vast_pulumi.emulator.schemas import EndpointBody, parse


def row(endpoint: Endpoint) -> JsonDict:
    data = asdict(endpoint)
    overrides = data.pop("overrides")
    for internal in ("load", "routed", "reqnum", "last_activity"):  # the emulator's own, not API fields
        data.pop(internal)
    return {**data, **overrides}


def create(state: State, account: Account, body: dict[str, Any], now: float) -> int:
    given = parse(EndpointBody, body).given()
    endpoint_id = state.next_id("endpoint")
    # The CLI sends a null name when --endpoint_name is not given; the console makes one up.
    name = given.pop("endpoint_name", None) or f"endpoint-{endpoint_id}"
    endpoint = Endpoint(
        id=endpoint_id,
        endpoint_name=name,
        api_key=secrets.token_hex(32),
        user_id=account.user_id,
        created_at=now,
        **given,
    )
    account.endpoints[endpoint_id] = endpoint
    return endpoint_id


def find(account: Account, endpoint_id: int, *, deleting: bool = False) -> Endpoint:
    endpoint = account.endpoints.get(endpoint_id)
    if endpoint is None:
        # The API answers 400, not 404, and words it differently for a delete.
        what = "Routegroup" if deleting else "Endpointgroup"
        raise ApiError(400, "not_found", f"{what} not found for user")
    return endpoint


def update(account: Account, endpoint_id: int, body: dict[str, Any]) -> None:
    endpoint = find(account, endpoint_id)
    for key, value in parse(EndpointBody, body).given().items():
        setattr(endpoint, key, value)
    # Workergroups show their endpoint's name.
    for group in account.workergroups.values():
        if group.endpoint_id == endpoint_id:
            group.endpoint_name = endpoint.endpoint_name


def delete(account: Account, endpoint_id: int, now: float, *, linger: bool) -> JsonDict:
    """The endpoint, its workergroups (OpenAPI) and the workers still attached to them."""
    find(account, endpoint_id, deleting=True)
    deleted, failed = autoscaler.destroy_for_endpoint(account, endpoint_id, now, linger=linger)
    groups = [g for g in account.workergroups.values() if g.endpoint_id == endpoint_id]
    for group in groups:
        del account.workergroups[group.id]
    del account.endpoints[endpoint_id]
    return {
        "success": True,
        "deleted_workers": deleted,
        "failed_workers": failed,
        "msg": f"Deleted endpoint job and {len(deleted)} workers",
    }


def by_name(account: Account, name: str) -> Endpoint | None:
    """The first endpoint with this name, as the SDK's lookup does (names need not be unique)."""
    return next(
        (e for e in sorted(account.endpoints.values(), key=lambda e: e.id) if e.endpoint_name == name), None
    )
