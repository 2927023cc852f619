"""Which rows a query dict selects, as the server filters ``/bundles/``, templates, instances and volume
offers, and recruits a workergroup's machines.

A query is the JSON the official client sends: ``{field: {op: value}}`` with the operators ``eq neq
gt gte lt lte in notin`` (vastai/api/query.py, ``op_names``). Other entries (``order``, ``limit``,
``type``, ``allocated_storage``) are not filters and are skipped here. The client sends numbers as it
read them, as strings (``{"num_gpus": {"gte": "2"}}``); the server compares them as numbers, or else
no CLI search by number would work. Booleans come as JSON booleans, or as ``"true"`` inside an
``in`` list (the client converts only single values). A driver version comes as the client's
number (``535.86.05`` -> ``535086005``) and the rows hold the dotted string, so a row's version is
read as that number. Values written as raw JSON may keep the CLI's ``_`` for a space
(``"RTX_4090"``, the OpenAPI examples); they match the catalogue's ``"RTX 4090"``. A ``geolocation``
filter names the two-letter country code of the row's ``"Sweden, SE"``. A field may be named by the
CLI's alias for it (``dph`` for ``dph_total``, vastai/api/query.py ``offers_alias``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["ALIASES", "OPERATORS", "FilterError", "field_name", "matches"]


class FilterError(ValueError):
    """A filter the server cannot apply (an unknown operator)."""


ALIASES = {
    "cuda_vers": "cuda_max_good",
    "display_active": "gpu_display_active",
    "dlperf_usd": "dlperf_per_dphtotal",
    "dph": "dph_total",
    "flops_usd": "flops_per_dphtotal",
}
_BOOLEAN_WORDS = {"true": True, "false": False}


def field_name(name: str) -> str:
    """The column an alias stands for; other names as they are."""
    return ALIASES.get(name, name)


def matches(row: Mapping[str, Any], query: Mapping[str, Any]) -> bool:
    """Whether ``row`` passes every ``{field: {op: value}}`` filter of ``query``."""
    for field, ops in query.items():
        if not isinstance(ops, Mapping):
            continue
        actual = _row_value(row, field_name(field))
        for op, wanted in ops.items():
            test = OPERATORS.get(op)
            if test is None:
                raise FilterError(f"{field}: unknown operator {op!r}; use one of {', '.join(OPERATORS)}")
            if not test(field, actual, wanted):
                return False
    return True


def _row_value(row: Mapping[str, Any], field: str) -> Any:
    value = row.get(field)
    if field == "driver_version" and isinstance(value, str):
        return _version_number(value)
    return value


def _version_number(text: str) -> Any:
    """``"550.54.14"`` -> ``550054014``: three parts, three digits each; anything else as it is."""
    parts = text.split(".")
    if len(parts) != 3 or not all(part.isdigit() for part in parts):
        return text
    return int("".join(f"{int(part):03d}" for part in parts))


def _same(field: str, actual: Any, wanted: Any) -> bool:
    if actual is None or wanted is None:
        return actual is None and wanted is None
    if isinstance(actual, bool) or isinstance(wanted, bool):
        return bool(_truth(actual) == _truth(wanted))
    if _numeric(actual):
        return _number(wanted) == float(actual)
    left, right = str(actual).replace("_", " "), str(wanted).replace("_", " ")
    if field == "geolocation":
        return right in (left, left.rpartition(",")[2].strip())
    return left == right


def _truth(value: Any) -> Any:
    """A boolean, or the value itself when it spells none (which then equals no boolean)."""
    if isinstance(value, str):
        return _BOOLEAN_WORDS.get(value.strip().lower(), value)
    if _numeric(value):
        return value != 0
    return value


def _one_of(field: str, actual: Any, wanted: Any) -> bool:
    choices = wanted if isinstance(wanted, list | tuple | set | frozenset) else [wanted]
    return any(_same(field, actual, choice) for choice in choices)


def _ordering(holds: Callable[[Any, Any], bool]) -> Callable[[str, Any, Any], bool]:
    """A comparison: as numbers when both sides read as numbers, as text when both are text, else false."""

    def test(field: str, actual: Any, wanted: Any) -> bool:
        left, right = _number(actual), _number(wanted)
        if left is not None and right is not None:
            return holds(left, right)
        if isinstance(actual, str) and isinstance(wanted, str):
            return holds(actual, wanted)
        return False

    return test


def _numeric(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _number(value: Any) -> float | None:
    if _numeric(value):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


OPERATORS: dict[str, Callable[[str, Any, Any], bool]] = {
    "eq": _same,
    "neq": lambda field, actual, wanted: not _same(field, actual, wanted),
    "gt": _ordering(lambda a, b: a > b),
    "gte": _ordering(lambda a, b: a >= b),
    "lt": _ordering(lambda a, b: a < b),
    "lte": _ordering(lambda a, b: a <= b),
    "in": _one_of,
    "notin": lambda field, actual, wanted: not _one_of(field, actual, wanted),
}
