"""Workergroups (``/api/v0/workergroups/``, alias ``/api/v0/autojobs/``).

The server parses ``search_params`` with the CLI's grammar and stores the parsed query as sent, over the
template's filters, with no default filters of its own. Sources disagree: the documentation says "There
is no default value for search_params" (docs.vast.ai/documentation/serverless/workergroup-parameters),
OpenAPI's ``default:`` on the field (openapi.yaml:880) is only an annotation, and the official client
appends ``verified=True rentable=True rented=False`` itself (vastai/api/endpoints.py:217-224, 256-263).
Unverified; modelled the worse way for a client: a query sent without those filters recruits on
unverified, unrentable or rented hosts.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import asdict
from typing import Any

from vast_pulumi.emulator import autoscaler, endpoints, search_params, templates
from vast_pulumi.emulator.catalogue import OFFER_FIELDS
from vast_pulumi.emulator.errors import ApiError, invalid_args
from vast_pulumi.emulator.models import Account, Endpoint, JsonDict, State, Workergroup
from vast_pulumi.emulator.schemas import WorkergroupBody, parse

OPERATORS = frozenset({"eq", "neq", "gt", "gte", "lt", "lte", "in", "notin"})
NO_ENDPOINT = "Please assign your workergroup to a valid endpoint identifier"


def row(group: Workergroup) -> JsonDict:
    data = asdict(group)
    overrides = data.pop("overrides")
    return {**data, **overrides}


def search_query(params: str | Mapping[str, Any] | None, template_filters: Mapping[str, Any]) -> JsonDict:
    """What the server stores for ``search_params``: the parsed query as sent, over the template's
    filters; no defaults (see the module docstring)."""
    result = {k: dict(v) for k, v in template_filters.items() if isinstance(v, Mapping)}
    if params is None:
        return result
    if isinstance(params, str):
        try:
            named = search_params.parse(params)
        except search_params.ParseError as error:
            raise invalid_args("search_params", str(error)) from None
        _check_query_dict(named)
        return {**result, **named}
    _check_query_dict(params)
    return {**result, **{k: dict(v) for k, v in params.items()}}


def _check_query_dict(params: Mapping[str, Any]) -> None:
    for field, ops in params.items():
        if field not in OFFER_FIELDS:
            raise invalid_args("search_params", f"unknown field {field!r}")
        if not isinstance(ops, Mapping) or not set(ops) <= OPERATORS:
            raise invalid_args("search_params", f"{field}: expected {{operator: value}}")


def _endpoint(account: Account, endpoint_id: int | None, endpoint_name: str | None) -> Endpoint:
    if endpoint_id is not None and endpoint_id in account.endpoints:
        return account.endpoints[endpoint_id]
    if endpoint_name is not None:
        found = endpoints.by_name(account, endpoint_name)
        if found is not None:
            return found
    raise ApiError(400, "invalid_args", NO_ENDPOINT)


def _template_fields(state: State, account: Account, given: dict[str, Any]) -> dict[str, Any]:
    """Both template names, resolved (the API stores the pair), and the template's offer filters."""
    if given.get("template_hash") is None and given.get("template_id") is None:
        return {}
    template = templates.resolve(
        state, account, hash_id=given.get("template_hash"), template_id=given.get("template_id")
    )
    return {"template_hash": template.hash_id, "template_id": template.id, "_filters": template.content}


def create(
    state: State, account: Account, body: dict[str, Any], now: float, *, require_template: bool = False
) -> int:
    """``require_template`` (reading ``templateless_workergroup=400``, audit S3): the SDK's rule, "Either
    template_hash or template_id is required" (vastai/data/workergroup.py:13-18)."""
    given = parse(WorkergroupBody, body).given()
    if require_template and given.get("template_hash") is None and given.get("template_id") is None:
        raise ApiError(400, "invalid_args", "Invalid args: Either template_hash or template_id is required")
    endpoint = _endpoint(account, given.pop("endpoint_id", None), given.pop("endpoint_name", None))
    template = _template_fields(state, account, given)
    filters = (template.pop("_filters", None) or {}).get("extra_filters") or {}
    query = search_query(given.pop("search_params", None), filters)
    group = Workergroup(
        id=state.next_id("workergroup"),
        endpoint_id=endpoint.id,
        endpoint_name=endpoint.endpoint_name,
        user_id=account.user_id,
        created_at=now,
        api_key=secrets.token_hex(32),
        search_query=query,
        **{**given, **template},
    )
    account.workergroups[group.id] = group
    return group.id


def find(account: Account, group_id: int) -> Workergroup:
    group = account.workergroups.get(group_id)
    if group is None:
        raise ApiError(400, "not_found", "Workgroup not found for user")
    return group


def update(state: State, account: Account, group_id: int, body: dict[str, Any]) -> None:
    group = find(account, group_id)
    given = parse(WorkergroupBody, body).given()
    # Everything is checked before anything changes: a rejected update leaves the group as it was.
    endpoint_id, endpoint_name = given.pop("endpoint_id", None), given.pop("endpoint_name", None)
    if endpoint_id is not None or endpoint_name is not None:
        endpoint = _endpoint(account, endpoint_id, endpoint_name)
        given.update(endpoint_id=endpoint.id, endpoint_name=endpoint.endpoint_name)
    template = _template_fields(state, account, given)
    template.pop("_filters", None)
    if "search_params" in given:
        given["search_query"] = search_query(given.pop("search_params"), {})
    for key, value in {**given, **template}.items():
        setattr(group, key, value)


def delete(account: Account, group_id: int) -> JsonDict:
    """The group only: its workers stay, detached and billing (the official client's help says so)."""
    if group_id not in account.workergroups:
        raise ApiError(404, "no_such_workergroup", "No workergroup by that id is available.", id=group_id)
    autoscaler.detach(account, group_id)
    del account.workergroups[group_id]
    return {
        "success": True,
        "deleted_workers": [],
        "failed_workers": [],
        "msg": f"Deleted workergroup {group_id} and 0 workers",
    }
