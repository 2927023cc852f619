"""Searching GPU offers with the CLI's query language.

>>> from vast_pulumi import get_offers
>>> cheapest = get_offers("gpu_name=RTX_4090 num_gpus=1 reliability>0.98", disk=64, limit=3)
>>> cheapest[0].dph_total, cheapest[0].gpu_ram  # $/hour with 64 GB of disk, MB

``get_offers`` works inside a Pulumi program (it runs at preview as well as at ``up``, reading
``vast:apiKey``/``vast:apiUrl`` from the stack config) and outside one (environment, then the CLI's key
file). Queries use the CLI's grammar and defaults: ``verified``, ``rentable``, unrented, not external,
sizes in GB; ``order`` is a comma-separated list of fields, ``-`` before or after a field for descending
(``"-dlperf,dph_total"``, ``"score-"``), with the query's aliases (``dph`` for ``dph_total``).

**Disk.** A search is for a disk of ``disk`` GB (default 10, an :class:`~vast_pulumi.Instance`'s default):
it is sent as ``allocated_storage``, so ``dph_total`` includes that much storage and "cheapest" means
cheapest for that disk; and only offers with at least that much ``disk_space`` are returned, unless the
query filters on ``disk_space`` itself.
"""

from __future__ import annotations

from typing import Any

import pulumi
from pydantic import BaseModel, ConfigDict

from vast_pulumi.client import VastClient, shared_client
from vast_pulumi.errors import OfferUnavailableError, VastApiError, VastInputError
from vast_pulumi.query import ORDER_FIELDS, closest, field_name, parse_query
from vast_pulumi.settings import ProviderSettings

__all__ = [
    "Offer",
    "canonical_query",
    "get_offers",
    "offer_filters",
    "order_clause",
    "rentable_offers",
    "search_offers",
]

DEFAULT_ORDER = "dph_total"
DEFAULT_LIMIT = 64
DEFAULT_DISK_GB = 10.0  # an Instance's default disk
_ORDER_EXAMPLES = "; name offer fields, e.g. 'dph_total' (cheapest first), '-dlperf' (fastest), 'score-'"


class Offer(BaseModel):
    """A rentable machine offer. Extra API fields are kept (``offer.model_extra``)."""

    # Its validator is built on first use, like the inputs models': the programs and providers that import
    # this module for its query helpers (Template, Workergroup, Instance) never pay for it, nor for
    # pydantic's plugin scan that the first build of any model runs.
    model_config = ConfigDict(extra="allow", frozen=True, defer_build=True)

    id: int
    machine_id: int | None = None
    host_id: int | None = None
    gpu_name: str | None = None
    num_gpus: int | None = None
    gpu_ram: float | None = None  # MB per GPU
    cpu_ram: float | None = None  # MB
    cpu_cores_effective: float | None = None
    disk_space: float | None = None  # GB
    dph_total: float | None = None  # $/hour, on-demand
    min_bid: float | None = None  # $/hour, lowest interruptible bid
    reliability: float | None = None
    geolocation: str | None = None
    verified: bool | None = None
    cuda_max_good: float | None = None
    inet_down: float | None = None  # Mb/s
    inet_up: float | None = None
    dlperf: float | None = None
    score: float | None = None


def order_clause(
    order: str, fields: frozenset[str] = ORDER_FIELDS, examples: str = _ORDER_EXAMPLES
) -> list[list[str]]:
    """``"-score,dph"`` -> ``[["score", "desc"], ["dph_total", "asc"]]``, as the official client reads
    it: ``-`` before or after a field for descending, ``+`` for ascending, aliases resolved.

    Every term must name one of ``fields`` (an offer field, by default): the API sorts by nothing for
    a name it does not know, so ``order="cheapest"`` would rent an unsorted pick."""
    clauses = []
    for term in (part.strip() for part in order.split(",")):
        if not term:
            continue
        field = field_name(term.strip("-+"))
        if field not in fields:
            hint = closest(field, fields, examples)
            raise VastInputError(f"{term!r} is not a field to order offers by{hint}")
        descending = "-" in (term[0], term[-1]) and "+" not in (term[0], term[-1])
        clauses.append([field, "desc" if descending else "asc"])
    if not clauses:
        raise VastInputError("name at least one field to order offers by")
    return clauses


def search_offers(
    client: VastClient,
    query: str,
    *,
    order: str = DEFAULT_ORDER,
    limit: int = DEFAULT_LIMIT,
    interruptible: bool = False,
    disk: float = DEFAULT_DISK_GB,
) -> list[Offer]:
    """Offers matching ``query`` with room for ``disk`` GB, best first by ``order``, priced with that disk.

    ``interruptible`` searches bid prices (for instances rented with a ``price``) instead of on-demand.
    """
    clauses = order_clause(order)
    filters = offer_filters(query, disk)
    body: dict[str, Any] = {
        **filters,
        "order": clauses,
        "type": "bid" if interruptible else "on-demand",
        "limit": limit,
        "allocated_storage": disk,
    }
    offers = [Offer.model_validate(row) for row in client.search_offers(body)]
    # Like the CLI: the search index lags, so drop offers already rented unless the query asks for them
    # (rented=any); and sort ourselves, so "best first" holds whatever order the server used.
    if filters.get("rented") == {"eq": False}:
        offers = [offer for offer in offers if not (offer.model_extra or {}).get("rented")]
    return _sorted(offers, clauses)[:limit]


def rentable_offers(
    client: VastClient,
    query: str,
    *,
    order: str = DEFAULT_ORDER,
    limit: int = DEFAULT_LIMIT,
    disk: float = DEFAULT_DISK_GB,
    price: float | None = None,
) -> list[Offer]:
    """The offers a rent of ``query`` can take now, best first: with ``price`` (a bid), those whose
    ``min_bid`` it meets. None raises :class:`~vast_pulumi.errors.OfferUnavailableError` saying why:
    the bid below every matching offer's ``min_bid`` (naming the lowest), or no offer matching, with
    the GPU name Vast.ai knows that is closest to a ``gpu_name`` it does not."""
    offers = search_offers(
        client, query, order=order, limit=limit, interruptible=price is not None, disk=disk
    )
    within = [o for o in offers if price is None or o.min_bid is None or o.min_bid <= price]
    if within:
        return within
    where = f"offer_query {query!r} with {disk:g} GB of disk"
    if offers and price is not None:
        bid, offer_id = min((o.min_bid or 0.0, o.id) for o in offers)
        raise OfferUnavailableError(
            f"price={price:g} $/h is below the min_bid of every offer matching {where} (the lowest is "
            f"${bid:g}/h, offer {offer_id}): bid at least that, or leave price unset to rent on-demand"
        )
    raise OfferUnavailableError(f"no offer matches {where} right now{_gpu_hint(client, query)}")


def _gpu_hint(client: VastClient, query: str) -> str:
    """ "; gpu_name 'RTX4090' is no GPU Vast.ai knows: did you mean 'RTX_4090'?" when a ``gpu_name``
    of the query is none of the API's names (one public call, made only when nothing matched)."""
    wanted = parse_query(query, default_filters=False).get("gpu_name", {})
    names = [str(v) for values in wanted.values() for v in (values if isinstance(values, list) else [values])]
    if not names:
        return ""
    try:
        known = client.gpu_names()
    except VastApiError:
        return ""  # only a hint: the error it decorates says what matters
    spelled = {name.replace(" ", "_"): name for name in known}  # as the query language writes them
    for name in names:
        if name in known or not known:
            continue
        typed = name.replace(" ", "_")
        return f"; gpu_name {typed!r} is no GPU Vast.ai knows{closest(typed, spelled, '', n=1)}"
    return ""


def get_offers(
    query: str,
    *,
    order: str = DEFAULT_ORDER,
    limit: int = DEFAULT_LIMIT,
    interruptible: bool = False,
    disk: float = DEFAULT_DISK_GB,
    api_key: str | None = None,
    api_url: str | None = None,
) -> list[Offer]:
    """Search offers from a Pulumi program or a script; see the module docstring."""
    settings = ProviderSettings.for_program(api_key, api_url, _program_config())
    return search_offers(
        shared_client(settings), query, order=order, limit=limit, interruptible=interruptible, disk=disk
    )


def offer_filters(query: str, disk: float) -> dict[str, Any]:
    """The query's filters (the CLI's defaults included), plus ``disk_space>=disk`` unless the query
    filters on ``disk_space`` itself: a rent asking for more disk than the machine has fails."""
    filters = parse_query(query)
    if "disk_space" not in filters:
        filters["disk_space"] = {"gte": format(disk, "f").rstrip("0").rstrip(".")}  # as the CLI writes it
    return filters


def canonical_query(query: dict[str, Any] | None) -> dict[str, Any] | None:
    """A parsed query in a form where equal meaning means equal value ("1", 1 and 1.0 alike)."""
    if query is None:
        return None
    return {field: {op: _canonical(value) for op, value in ops.items()} for field, ops in query.items()}


def _canonical(value: Any) -> Any:
    if isinstance(value, list):
        return sorted((_canonical(item) for item in value), key=repr)
    if isinstance(value, bool) or value is None:
        return value
    try:
        return float(value)
    except (TypeError, ValueError):
        return value


def _program_config() -> dict[str, str | None]:
    """``vast:*`` stack config when running inside a Pulumi program, else nothing."""
    try:
        config = pulumi.Config("vast")
        return {"apiKey": config.get("apiKey"), "apiUrl": config.get("apiUrl")}
    except Exception:  # not in a program: the SDK has no settings to read config from
        return {}


def _sorted(offers: list[Offer], clauses: list[list[str]]) -> list[Offer]:
    # Stable sorts from the last key to the first; offers lacking a field go last either way.
    for field, direction in reversed(clauses):
        present = [o for o in offers if isinstance(_field(o, field), int | float | str)]
        missing = [o for o in offers if not isinstance(_field(o, field), int | float | str)]
        present.sort(key=lambda offer: _field(offer, field), reverse=direction == "desc")
        offers = present + missing
    return offers


def _field(offer: Offer, field: str) -> Any:
    if field in Offer.model_fields:
        return getattr(offer, field)
    return (offer.model_extra or {}).get(field)
