"""The official CLI's offer query language, as the provider reads its users' queries.

>>> parse_query("gpu_name=RTX_4090 num_gpus=1 gpu_ram>=24", default_filters=False)
{'gpu_name': {'eq': 'RTX 4090'}, 'num_gpus': {'eq': '1'}, 'gpu_ram': {'gte': 24000.0}}

The grammar and value conversions follow ``vastai/api/query.py::parse_query`` (vastai 1.9.1), which
the server mirrors when it parses a workergroup's ``search_params``: ``field op value`` triples,
``_`` in values becomes a space, ``true``/``false``/``null`` become JSON values, numbers stay strings
(the server compares them numerically), sizes in GB become MB, durations in days become seconds,
``any``/``*``/``?`` with ``=`` removes a filter, and ``in``/``notin`` take lists. Unlike the CLI,
which only warns, an unknown field is an error: a typo would otherwise silently match everything.

Standard library only: the provider imports this at every Pulumi preview.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable
from typing import Any

from vast_pulumi.errors import QueryError

__all__ = ["OFFER_FIELDS", "ORDER_FIELDS", "QueryError", "closest", "field_name", "parse_query", "query_text"]


# vastai/api/query.py::offers_fields.
OFFER_FIELDS: frozenset[str] = frozenset(
    {
        "bw_nvlink",
        "cluster_id",
        "compute_cap",
        "cpu_arch",
        "cpu_cores",
        "cpu_cores_effective",
        "cpu_ghz",
        "cpu_ram",
        "cuda_max_good",
        "datacenter",
        "direct_port_count",
        "disk_bw",
        "disk_space",
        "dlperf",
        "dlperf_per_dphtotal",
        "dph_total",
        "driver_version",
        "duration",
        "external",
        "flops_per_dphtotal",
        "geolocation",
        "gpu_arch",
        "gpu_display_active",
        "gpu_frac",
        "gpu_max_power",
        "gpu_max_temp",
        "gpu_mem_bw",
        "gpu_name",
        "gpu_ram",
        "gpu_total_ram",
        "has_avx",
        "host_id",
        "id",
        "inet_down",
        "inet_down_cost",
        "inet_up",
        "inet_up_cost",
        "machine_id",
        "min_bid",
        "mobo_name",
        "num_gpus",
        "pci_gen",
        "pcie_bw",
        "reliability",
        "rentable",
        "rented",
        "static_ip",
        "storage_cost",
        "total_flops",
        "ubuntu_version",
        "verification",
        "verified",
        "vms_enabled",
    }
)

# What an offer search can be ordered by: the query fields, the API's own ranking (the official CLI's
# default order is "score-") and the listing's base price (every offer row has dph_base).
ORDER_FIELDS: frozenset[str] = OFFER_FIELDS | {"score", "dph_base"}

# vastai/api/query.py::offers_alias.
_ALIASES = {
    "cuda_vers": "cuda_max_good",
    "display_active": "gpu_display_active",
    "dlperf_usd": "dlperf_per_dphtotal",
    "dph": "dph_total",
    "flops_usd": "flops_per_dphtotal",
}

# vastai/api/query.py::offers_mult: the language takes GB and days, the API stores MB and seconds.
_MULTIPLIERS = {"cpu_ram": 1000.0, "gpu_ram": 1000.0, "gpu_total_ram": 1000.0, "duration": 86400.0}

# What `vastai search offers` adds unless -n (vastai/api/offers.py::search_offers).
_DEFAULT_FILTERS = (("verified", True), ("external", False), ("rentable", True), ("rented", False))

# The CLI's tokenizer, verbatim: field, optional operator, value (a [list], a "quoted string" or a word).
_TOKEN = re.compile(
    r"([a-zA-Z0-9_]+)( *[=><!]+| +(?:[lg]te?|nin|neq|eq|not ?eq|not ?in|in) )?( *)"
    r"(\[[^\]]+\]|\"[^\"]+\"|[^ ]+)?( *)"
)

_OPERATORS = {
    "=": "eq",
    "==": "eq",
    "eq": "eq",
    "!=": "neq",
    "neq": "neq",
    "noteq": "neq",
    "not eq": "neq",
    ">": "gt",
    "gt": "gt",
    ">=": "gte",
    "gte": "gte",
    "<": "lt",
    "lt": "lt",
    "<=": "lte",
    "lte": "lte",
    "in": "in",
    "notin": "notin",
    "nin": "notin",
    "not in": "notin",
}

_WILDCARDS = frozenset({"any", "*", "?"})
_LITERALS: dict[str, Any] = {
    "true": True,
    "True": True,
    "false": False,
    "False": False,
    "None": None,
    "null": None,
}


def field_name(name: str) -> str:
    """The field an alias stands for (``dph`` -> ``dph_total``); other names as they are."""
    return _ALIASES.get(name, name)


def closest(name: str, names: Iterable[str], otherwise: str | None = None, *, n: int = 2) -> str:
    """ "; did you mean 'x'?" for the names nearest ``name`` (a typo); else ``otherwise``, or the names
    to pick from."""
    names = sorted(set(names))
    near = difflib.get_close_matches(name, names, n=n, cutoff=0.6)
    if near:
        return f"; did you mean {' or '.join(repr(n) for n in near)}?"
    return otherwise if otherwise is not None else f"; known: {', '.join(names)}"


def parse_query(text: str, *, default_filters: bool = True) -> dict[str, dict[str, Any]]:
    """``"num_gpus>=2 gpu_name in [RTX_4090,RTX_3090]"`` -> ``{"num_gpus": {"gte": "2"}, ...}``.

    With ``default_filters`` the CLI's defaults (verified, not external, rentable, not rented) come
    first, so the query can override them (``verified=false``) or drop them (``rented=any``).
    """
    result: dict[str, dict[str, Any]] = (
        {field: {"eq": value} for field, value in _DEFAULT_FILTERS} if default_filters else {}
    )
    text = text.strip()
    tokens = _TOKEN.findall(text)
    _check_consumed(text, tokens)
    for field, op, _, value, _ in tokens:
        _apply(result, field, op.strip(), value)
    return result


def _check_consumed(text: str, tokens: list[tuple[str, str, str, str, str]]) -> None:
    """The CLI's "Unconsumed text" check: the tokens must spell out the whole query."""
    joined = "".join("".join(token) for token in tokens)
    if joined == text:
        return
    position = next((i for i, (a, b) in enumerate(zip(joined, text, strict=False)) if a != b), len(joined))
    rest = text[position:].split(" ", 1)[0] or text[position:]
    raise QueryError(f"cannot parse the query at {rest!r} (position {position}); quote values with spaces")


def _apply(result: dict[str, dict[str, Any]], field: str, op: str, raw: str) -> None:
    field = _ALIASES.get(field, field)
    if field not in OFFER_FIELDS:
        raise QueryError(f"unknown field {field!r}{closest(field, [*OFFER_FIELDS, *_ALIASES])}")
    op_name = _OPERATORS.get(op)
    if op_name is None:
        shown = op or "(none)"
        raise QueryError(f"{field}: unknown operator {shown!r}; use one of = != < <= > >= in notin")
    value = raw.strip(",[]")
    if not value:
        raise QueryError(f"{field}: the value after {op!r} is blank")
    if value in _WILDCARDS:
        if op_name != "eq":
            raise QueryError(f"{field}: the wildcard {value!r} only works with =")
        result.pop(field, None)
        return
    result.setdefault(field, {})[op_name] = _convert(field, op_name, value)


def _convert(field: str, op_name: str, value: str) -> Any:
    if op_name in ("in", "notin"):
        items = [part.strip() for part in value.split(",") if part.strip()]
        return [_scalar(field, item) for item in items]
    return _scalar(field, value)


def _scalar(field: str, value: str) -> Any:
    if field == "driver_version" and "." in value:
        return _driver_number(value)
    value = value.replace("_", " ").strip('"')
    if field in _MULTIPLIERS:
        try:
            return float(value) * _MULTIPLIERS[field]
        except ValueError:
            raise QueryError(f"{field}: {value!r} is not a number") from None
    return _LITERALS.get(value, value)


def _driver_number(version: str) -> int:
    """``"535.86.05"`` -> ``535086005``, as the CLI's ``numeric_version``."""
    parts = version.strip('"').split(".")
    if len(parts) != 3 or not all(part.isdigit() for part in parts):
        raise QueryError(f"driver_version: {version!r} is not of the form X.Y.Z")
    return int("".join(part.zfill(3) for part in parts))


_SYMBOLS = {"eq": "=", "neq": "!=", "gt": ">", "gte": ">=", "lt": "<", "lte": "<="}


def query_text(query: dict[str, dict[str, Any]]) -> str | None:
    """A query in the CLI's language that parses back to exactly ``query`` (``default_filters=False``),
    or ``None`` when there is none (a value with ``_`` or a quote, a driver version, ...): used to
    describe a workergroup known only by its id, whose API row keeps the parsed query alone."""
    terms: list[str] = []
    for field, ops in query.items():
        for op, value in ops.items():
            words = (
                [_word(field, item) for item in value] if isinstance(value, list) else [_word(field, value)]
            )
            if None in words or (op not in _SYMBOLS and op not in ("in", "notin")):
                return None
            joined = f" {op} [{','.join(str(word) for word in words)}]" if op in ("in", "notin") else ""
            terms.append(f"{field}{joined}" if joined else f"{field}{_SYMBOLS[op]}{words[0]}")
    text = " ".join(terms)
    try:
        return text if parse_query(text, default_filters=False) == query else None
    except QueryError:
        return None


def _word(field: str, value: Any) -> str | None:
    if isinstance(value, bool):
        return "true" if value else "false"
    if field in _MULTIPLIERS and isinstance(value, int | float):
        return f"{value / _MULTIPLIERS[field]:g}"
    if isinstance(value, str) and "_" not in value and '"' not in value and value.strip() == value:
        return value.replace(" ", "_") or None
    return None
