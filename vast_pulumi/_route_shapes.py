"""What the provider reads from each API answer: one declared shape per read route.

Each :class:`RouteShape` names the fields the provider's code takes from a route's reply and from each
of its rows (``row.get("label")`` and the like), with the JSON types it can handle. Two things check
answers against these shapes, so the provider's assumptions and the emulator cannot drift apart
silently:

* ``vast-pulumi doctor`` (:mod:`vast_pulumi.doctor`), against a user's real account;
* a test of the emulator (``tests/unit/test_route_shapes.py``): the emulator never imports provider
  code (``tests/emulator/test_independent.py``), so the test side brings the two together.

A field is ``required`` when the provider reads it from every reply or row, and a missing one changes
what it does (a status read as ``None``, a marker never found); the others are checked only when
present. A dotted name reaches into an object (``search.gpuCostPerHour``).
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["SHAPES", "Divergence", "Field", "RouteShape", "check", "shape_for"]

# JSON types, as JSON Schema names them.
INTEGER, NUMBER, STRING, BOOLEAN, ARRAY, OBJECT, NULL = (
    "integer",
    "number",
    "string",
    "boolean",
    "array",
    "object",
    "null",
)


@dataclass(frozen=True)
class Field:
    name: str
    types: tuple[str, ...]
    required: bool = True
    alias: str | None = None  # another name the provider also reads (``key`` or ``public_key``)


@dataclass(frozen=True)
class RouteShape:
    """A read route's reply: its own fields, and (``rows_at``) where its rows are and their fields.
    ``rows_at`` ``""``: the reply is a bare array of rows."""

    method: str
    route: str
    reply: tuple[Field, ...] = ()
    rows_at: str | None = None
    row: tuple[Field, ...] = ()

    @property
    def name(self) -> str:
        return f"{self.method} {self.route}"


@dataclass(frozen=True)
class Divergence:
    """One difference between an answer and its declared shape."""

    route: str  # "GET /api/v1/instances/"
    field: str  # "instances[3].actual_status"; "" for the reply as a whole
    problem: str

    def as_json(self) -> dict[str, str]:
        return {"route": self.route, "field": self.field, "problem": self.problem}


def _f(name: str, *types: str, required: bool = True, alias: str | None = None) -> Field:
    return Field(name, types, required, alias)


# An instance row as the provider reads it (instance.py _outputs and read, _instance_rows, orphans,
# _workers): status, marker (extra_env), price, bid, how to reach it, worker ties.
_INSTANCE_ROW = (
    _f("id", INTEGER),
    _f("actual_status", STRING, NULL),
    _f("intended_status", STRING, NULL),
    _f("cur_state", STRING, NULL, required=False),
    _f("next_state", STRING, NULL, required=False),
    _f("status_msg", STRING, NULL),
    _f("extra_env", ARRAY, OBJECT, NULL),
    _f("label", STRING, NULL),
    _f("image_uuid", STRING, NULL),
    _f("image_runtype", STRING, NULL, required=False),
    _f("dph_total", NUMBER),
    _f("is_bid", BOOLEAN),
    _f("min_bid", NUMBER, NULL, required=False),
    _f("search", OBJECT, required=False),
    _f("search.gpuCostPerHour", NUMBER, required=False),
    _f("machine_id", INTEGER),
    _f("gpu_name", STRING, NULL),
    _f("num_gpus", INTEGER, NULL),
    _f("ssh_host", STRING, NULL),
    _f("ssh_port", INTEGER, STRING, NULL),
    _f("public_ipaddr", STRING, NULL),
    _f("ports", OBJECT, NULL, required=False),
    _f("jupyter_token", STRING, NULL, required=False),
    _f("workergroup_id", INTEGER, NULL, required=False),
    _f("endpoint_id", INTEGER, NULL, required=False),
)

SHAPES: tuple[RouteShape, ...] = (
    RouteShape("GET", "/api/v0/users/current/", reply=(_f("id", INTEGER),)),
    RouteShape(
        "GET",
        "/api/v1/instances/",
        reply=(_f("instances", ARRAY), _f("next_token", STRING, NULL, required=False)),
        rows_at="instances",
        row=_INSTANCE_ROW,
    ),
    # A destroyed instance reads as {"instances": null}; a live one as its row.
    RouteShape("GET", "/api/v0/instances/{id}/", reply=(_f("instances", OBJECT, NULL),), row=_INSTANCE_ROW),
    RouteShape(
        "GET",
        "/api/v0/endptjobs/",
        reply=(_f("results", ARRAY),),
        rows_at="results",
        row=(
            _f("id", INTEGER),
            _f("endpoint_name", STRING),
            _f("api_key", STRING, NULL),
            _f("min_load", NUMBER),
            _f("min_cold_load", NUMBER),
            _f("target_util", NUMBER),
            _f("cold_mult", NUMBER),
            _f("cold_workers", INTEGER),
            _f("max_workers", INTEGER),
            _f("max_queue_time", NUMBER, NULL),
            _f("target_queue_time", NUMBER, NULL),
            _f("inactivity_timeout", NUMBER, NULL),
            _f("endpoint_state", STRING, NULL, required=False),
        ),
    ),
    RouteShape(
        "GET",
        "/api/v0/workergroups/",
        reply=(_f("results", ARRAY),),
        rows_at="results",
        row=(
            _f("id", INTEGER),
            _f("endpoint_id", INTEGER),
            _f("endpoint_name", STRING, NULL, required=False),
            _f("template_hash", STRING, NULL),
            _f("template_id", INTEGER, NULL),
            _f("launch_args", STRING, NULL),
            _f("search_query", OBJECT, STRING, NULL),
            _f("gpu_ram", NUMBER, NULL, required=False),
            _f("max_workers", INTEGER, NULL, required=False),
            _f("api_key", STRING, NULL, required=False),
        ),
    ),
    RouteShape(
        "GET", "/api/v0/ssh/", rows_at="", row=(_f("id", INTEGER), _f("key", STRING, alias="public_key"))
    ),
    RouteShape("GET", "/api/v0/secrets/", reply=(_f("secrets", OBJECT),)),
    RouteShape(
        "GET",
        "/api/v0/template/",
        reply=(_f("templates", ARRAY),),
        rows_at="templates",
        row=(
            _f("id", INTEGER),
            _f("hash_id", STRING),
            _f("name", STRING, NULL),
            _f("creator_id", INTEGER, NULL),
            _f("image", STRING, NULL),
            _f("env", STRING, NULL, required=False),
            _f("extra_filters", OBJECT, NULL, required=False),
            _f("recommended_disk_space", NUMBER, NULL, required=False),
        ),
    ),
    RouteShape(
        "GET",
        "/api/v0/volumes/",
        reply=(_f("volumes", ARRAY),),
        rows_at="volumes",
        row=(
            _f("id", INTEGER),
            _f("label", STRING, NULL),
            _f("disk_space", NUMBER, NULL),
            _f("machine_id", INTEGER, NULL),
            _f("storage_total_cost", NUMBER, NULL),
            _f("status", STRING, NULL, required=False),
        ),
    ),
    RouteShape(
        "POST",
        "/api/v0/bundles/",
        reply=(_f("offers", ARRAY),),
        rows_at="offers",
        row=(
            _f("id", INTEGER),
            _f("machine_id", INTEGER, NULL),
            _f("gpu_name", STRING, NULL),
            _f("num_gpus", INTEGER, NULL),
            _f("gpu_ram", NUMBER, NULL),
            _f("disk_space", NUMBER, NULL),
            _f("dph_total", NUMBER),
            _f("min_bid", NUMBER, NULL, required=False),
            _f("reliability", NUMBER, NULL, required=False),
            _f("rented", BOOLEAN, NULL, required=False),
        ),
    ),
)

_BY_ROUTE = {(shape.method, shape.route): shape for shape in SHAPES}


def shape_for(method: str, route: str) -> RouteShape | None:
    return _BY_ROUTE.get((method, route))


def check(shape: RouteShape, payload: Any) -> list[Divergence]:
    """Every way ``payload`` (a decoded JSON answer) differs from what the provider reads."""
    if shape.rows_at == "":
        if not isinstance(payload, list):
            return [Divergence(shape.name, "", f"expected an array of rows, got {_type_of(payload)}")]
        return list(_rows(shape, payload, "[{}]"))
    if not isinstance(payload, dict):
        return [Divergence(shape.name, "", f"expected an object, got {_type_of(payload)}")]
    found = list(_fields(shape, payload, shape.reply, ""))
    if shape.rows_at:
        rows = payload.get(shape.rows_at)
        found += _rows(shape, rows if isinstance(rows, list) else [], f"{shape.rows_at}[{{}}]")
    elif shape.row and isinstance(payload.get("instances"), dict):
        found += _fields(shape, payload["instances"], shape.row, "instances.")
    return found


def _rows(shape: RouteShape, rows: Sequence[Any], where: str) -> Iterable[Divergence]:
    for index, row in enumerate(rows):
        prefix = where.format(index)
        if not isinstance(row, dict):
            yield Divergence(shape.name, prefix, f"expected an object, got {_type_of(row)}")
            continue
        yield from _fields(shape, row, shape.row, prefix + ".")


def _fields(
    shape: RouteShape, data: Mapping[str, Any], fields: Iterable[Field], prefix: str
) -> Iterable[Divergence]:
    for spec in fields:
        present, value = _lookup(data, spec.name)
        if not present and spec.alias:
            present, value = _lookup(data, spec.alias)
        where = prefix + spec.name
        if not present:
            if spec.required:
                yield Divergence(shape.name, where, _missing(spec, data, fields))
            continue
        if _type_of(value) not in spec.types and not (_type_of(value) == INTEGER and NUMBER in spec.types):
            wanted = " or ".join(spec.types)
            yield Divergence(shape.name, where, f"type {_type_of(value)}, the provider reads {wanted}")


def _lookup(data: Mapping[str, Any], dotted: str) -> tuple[bool, Any]:
    value: Any = data
    for part in dotted.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return False, None
        value = value[part]
    return True, value


def _missing(spec: Field, data: Mapping[str, Any], fields: Iterable[Field]) -> str:
    """ "missing", naming the likeliest new name when an undeclared key of the answer resembles it."""
    leaf = spec.name.rsplit(".", 1)[-1]
    _, parent = _lookup(data, spec.name.rsplit(".", 1)[0]) if "." in spec.name else (True, data)
    declared = {f.name.rsplit(".", 1)[-1] for f in fields} | {f.alias for f in fields if f.alias}
    others = [key for key in (parent if isinstance(parent, Mapping) else {}) if key not in declared]
    close = difflib.get_close_matches(leaf, others, n=1, cutoff=0.6)
    return f"missing (renamed to {close[0]!r}?)" if close else "missing"


def _type_of(value: Any) -> str:
    if value is None:
        return NULL
    if isinstance(value, bool):
        return BOOLEAN
    if isinstance(value, int):
        return INTEGER
    if isinstance(value, float):
        return NUMBER
    if isinstance(value, str):
        return STRING
    if isinstance(value, list):
        return ARRAY
    return OBJECT if isinstance(value, dict) else type(value).__name__
