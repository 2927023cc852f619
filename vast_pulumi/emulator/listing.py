"""``GET /api/v1/instances/``: filters, order, keyset pages of at most 25 and opaque next tokens.

A token is base64 JSON ``{"values": {column: value, ...}}`` of the last row's sort key, as the
API's own (``eyJ2YWx1ZXMiOiB7ImlkIjogMTIzfX0=``); the next page starts strictly after that key.
"""

from __future__ import annotations

import base64
import binascii
import functools
import json
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from vast_pulumi.emulator.errors import ApiError
from vast_pulumi.emulator.lifecycle import MACHINE_FIELDS
from vast_pulumi.emulator.matching import FilterError, matches

MAX_LIMIT = 25
# Stored on the contract record; computed columns (dph_total, num_gpus, ...) are not filterable.
FILTERABLE = frozenset(
    {
        "id",
        "actual_status",
        "intended_status",
        "cur_state",
        "next_state",
        "label",
        "gpu_name",
        "verification",
        "machine_id",
        "host_id",
        "image_uuid",
        "image_runtype",
        "template_id",
        "template_hash_id",
        "start_date",
        "end_date",
        "status_msg",
        "public_ipaddr",
        "ssh_host",
        "ssh_port",
        "geolocation",
        "is_bid",
        "disk_space",
        # A serverless worker's ties (see ``autoscaler``).
        "workergroup_id",
        "endpoint_id",
    }
)
ORDERABLE = FILTERABLE | frozenset(MACHINE_FIELDS) | {"dph_total", "num_gpus", "uptime_mins"}


@dataclass(frozen=True)
class PageRequest:
    select_filters: dict[str, Any]
    order_by: list[tuple[str, bool]]  # (column, descending), ``id`` last
    limit: int
    after: dict[str, Any] | None
    select_cols: list[str] | None  # None: every column


def _bad(msg: str) -> ApiError:
    return ApiError(400, "invalid_request", msg)


def _json_param(params: Mapping[str, str], name: str, default: Any) -> Any:
    raw = params.get(name)
    if raw is None or raw == "":
        return default
    try:
        return json.loads(raw)
    except ValueError:
        raise _bad(f"{name} is not valid JSON") from None


def page_request(params: Mapping[str, str]) -> PageRequest:
    """Read and check the query parameters (each a JSON value, as the CLI encodes them)."""
    filters = _json_param(params, "select_filters", {})
    if not isinstance(filters, dict):
        raise _bad("select_filters must be a JSON object")
    for column in filters:
        if column not in FILTERABLE:
            raise _bad(f"Invalid filter column: {column}")
    cols = _json_param(params, "select_cols", ["*"])
    if not isinstance(cols, list) or not all(isinstance(c, str) for c in cols):
        raise _bad("select_cols must be a JSON array of column names")
    return PageRequest(
        select_filters=filters,
        order_by=_order(_json_param(params, "order_by", [{"col": "id", "dir": "asc"}])),
        limit=_limit(_json_param(params, "limit", MAX_LIMIT)),
        after=_token(params.get("after_token")),
        select_cols=None if "*" in cols else cols,
    )


def _order(order_by: Any) -> list[tuple[str, bool]]:
    if not isinstance(order_by, list):
        raise _bad("order_by must be a JSON array of {col, dir}")
    order: list[tuple[str, bool]] = []
    for clause in order_by:
        column = clause.get("col") if isinstance(clause, dict) else None
        if column not in ORDERABLE:
            raise _bad(f"Invalid order column: {column}")
        order.append((str(column), str(clause.get("dir", "asc")).lower() == "desc"))
    if "id" not in [c for c, _ in order]:
        order.append(("id", False))  # the tiebreaker that makes keyset paging total
    return order


def _limit(limit: Any) -> int:
    if isinstance(limit, bool) or not isinstance(limit, int):
        raise _bad("limit must be an integer")
    return 5 if limit <= 0 else min(limit, MAX_LIMIT)


def _token(token: str | None) -> dict[str, Any] | None:
    if not token:
        return None
    try:
        decoded = json.loads(base64.urlsafe_b64decode(token.encode()))
    except (ValueError, binascii.Error):
        raise ApiError(400, "invalid_request", "Invalid after_token") from None
    if not isinstance(decoded, dict) or not isinstance(decoded.get("values"), dict):
        raise ApiError(400, "invalid_request", "Invalid after_token")
    values: dict[str, Any] = decoded["values"]
    return values


def _encode(values: Mapping[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps({"values": dict(values)}).encode()).decode()


def page(rows: list[dict[str, Any]], request: PageRequest) -> dict[str, Any]:
    """One page of ``rows`` (every instance of the account, rendered) as the API answers it."""
    try:
        selected = [r for r in rows if matches(r, request.select_filters)]
    except FilterError as error:
        raise _bad(str(error)) from None
    compare = functools.partial(_compare, request.order_by)
    selected.sort(key=functools.cmp_to_key(compare))
    if request.after is not None:
        after = request.after
        if set(after) != {c for c, _ in request.order_by}:
            raise ApiError(400, "invalid_request", "Invalid after_token")
        selected_after = [r for r in selected if compare(r, after) > 0]
    else:
        selected_after = selected
    chunk = selected_after[: request.limit]
    more = len(selected_after) > request.limit
    next_token = _encode({c: chunk[-1].get(c) for c, _ in request.order_by}) if more else None
    return {
        "success": True,
        "instances_found": len(chunk),
        "total_instances": len(selected),
        "label_counts": dict(Counter(r.get("label") or "" for r in selected)),
        "next_token": next_token,
        "instances": [_project(r, request.select_cols) for r in chunk],
    }


def _compare(order: list[tuple[str, bool]], a: Mapping[str, Any], b: Mapping[str, Any]) -> int:
    for column, descending in order:
        result = _compare_values(a.get(column), b.get(column))
        if result:
            return -result if descending else result
    return 0


def _compare_values(a: Any, b: Any) -> int:
    # Nulls sort first, as in the API's SQL ordering for ascending columns.
    if a is None or b is None:
        return (a is not None) - (b is not None)
    ka = (0, float(a), "") if isinstance(a, int | float) else (1, 0.0, str(a))
    kb = (0, float(b), "") if isinstance(b, int | float) else (1, 0.0, str(b))
    return (ka > kb) - (ka < kb)


def _project(row: dict[str, Any], cols: list[str] | None) -> dict[str, Any]:
    if cols is None:
        return row
    return {c: row.get(c) for c in cols}
