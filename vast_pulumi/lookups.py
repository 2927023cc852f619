"""Read-only lookups for Pulumi programs (they run at preview too) and scripts.

>>> from vast_pulumi import get_instances, get_templates, get_user, get_volume_offers
>>> get_user().credit                                   # $ left on the account
>>> [t["hash_id"] for t in get_templates("name=vLLM")]  # own and public templates
>>> get_instances(label="dev-box")                      # rows as the API lists them
>>> get_volume_offers("reliability>0.99", size=200)[0]["storage_cost"]  # $/GB/month
>>> get_endpoint_costs("inference").states         # {"IDLE": 1, "STOPPED": 4}; $/h active, inactive too

Like :func:`vast_pulumi.get_offers`, each call reads ``vast:apiKey``/``vast:apiUrl`` from the stack
config inside a program, else the environment (``VAST_API_KEY``, ``VAST_URL``) or the CLI's key file,
and shares the provider's client (pacing, connection pool) for that account.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from pydantic import BaseModel, ConfigDict

from vast_pulumi.client import Row, VastClient, shared_client
from vast_pulumi.errors import VastInputError
from vast_pulumi.offers import _program_config
from vast_pulumi.settings import DEFAULT_API_URL, ProviderSettings
from vast_pulumi.volume import DEFAULT_ORDER as VOLUME_ORDER
from vast_pulumi.volume import search_volume_offers

__all__ = [
    "EndpointCosts",
    "User",
    "get_endpoint_costs",
    "get_instance",
    "get_instances",
    "get_templates",
    "get_user",
    "get_volume_offers",
]


class User(BaseModel):
    """The account the API key belongs to. Extra API fields are kept (``user.model_extra``)."""

    model_config = ConfigDict(extra="allow", frozen=True, defer_build=True)

    id: int
    username: str | None = None
    email: str | None = None
    balance: float | None = None  # $ owed (negative) or prepaid
    credit: float | None = None  # $ of credit left


def _client(api_key: str | None, api_url: str | None) -> VastClient:
    return shared_client(ProviderSettings.for_program(api_key, api_url, _program_config()))


def get_user(*, api_key: str | None = None, api_url: str | None = None) -> User:
    """The account of the configured key: id, balance, credit, ... (never the key)."""
    row = _client(api_key, api_url).current_user()
    return User.model_validate({key: value for key, value in row.items() if "key" not in key.lower()})


def get_templates(query: str = "", *, api_key: str | None = None, api_url: str | None = None) -> list[Row]:
    """Templates visible to the account (its own and public ones) matching ``query`` in the CLI's
    language over template fields (``name=vLLM``, ``hash_id=abc...``, ``creator_id=123``)."""
    filters = _template_filters(query)
    return _client(api_key, api_url).search_templates(filters)


def _template_filters(query: str) -> dict[str, Any]:
    """A template query: the CLI grammar, without the offer-field check (templates have other fields)."""
    filters: dict[str, Any] = {}
    for term in query.split():
        parsed = _one_term(term)
        for field, ops in parsed.items():
            filters.setdefault(field, {}).update(ops)
    return filters


def _one_term(term: str) -> dict[str, Any]:
    for symbol, op in (
        (">=", "gte"),
        ("<=", "lte"),
        ("!=", "neq"),
        ("==", "eq"),
        ("=", "eq"),
        (">", "gt"),
        ("<", "lt"),
    ):
        field, found, value = term.partition(symbol)
        if found and field and value:
            if not field.replace("_", "").isalnum():
                break
            return {field: {op: _scalar(value)}}
    raise VastInputError(f"query: {term!r} is not 'field op value' (ops: = != > >= < <=)")


def _scalar(value: str) -> Any:
    literals = {"true": True, "false": False, "null": None}
    if value.lower() in literals:
        return literals[value.lower()]
    try:
        return int(value)
    except ValueError:
        pass
    try:
        return float(value)
    except ValueError:
        return value.replace("_", " ")


def get_instance(instance_id: int, *, api_key: str | None = None, api_url: str | None = None) -> Row | None:
    """One of the account's instances as the API shows it, or ``None`` when there is none of that id."""
    return _client(api_key, api_url).get_instance(int(instance_id))


def get_instances(
    *, label: str | None = None, api_key: str | None = None, api_url: str | None = None
) -> list[Row]:
    """The account's instances (all pages), only those labelled ``label`` when it is given."""
    rows = _client(api_key, api_url).list_instances()
    return [row for row in rows if label is None or row.get("label") == label]


def get_volume_offers(
    query: str = "",
    *,
    size: float = 1.0,
    order: str = VOLUME_ORDER,
    limit: int = 64,
    api_key: str | None = None,
    api_url: str | None = None,
) -> list[Row]:
    """Volume offers matching ``query`` (CLI language over volume offer fields) with room for ``size``
    GB, priced for ``size`` GB (``storage_total_cost``, $/hour), best first by ``order``."""
    return search_volume_offers(_client(api_key, api_url), query, size=size, order=order, limit=limit)


# What a serverless endpoint's workers cost now: the bill of a cold_workers or min_load choice before
# the invoice shows it. The workers and their states come from the autoscaler (``POST
# /get_endpoint_workers/`` on https://run.vast.ai, or on ``vast:apiUrl`` when that is not the console's,
# as the official client does); what each costs now from its instance row (``instance.totalHour``: GPU
# and storage while it holds its GPU, storage only while stopped). Billing per state is the docs'
# table (``guides/serverless/worker-states.mdx``, ``pricing.mdx``): inactive workers (STOPPED,
# STOPPING) bill storage; DESTROYING, ERROR and PENDING bill nothing; every other state is active.

SERVERLESS_URL = "https://run.vast.ai"
INACTIVE = frozenset({"STOPPED", "STOPPING"})
NOT_BILLED = frozenset({"DESTROYING", "ERROR", "PENDING"})


class EndpointCosts(BaseModel):
    """An endpoint's workers now: $/h of the active and of the inactive ones, and counts by state."""

    model_config = ConfigDict(frozen=True, defer_build=True)

    endpoint_id: int
    endpoint_name: str
    active_per_hour: float  # $/h of workers billed as active (loading, ready, starting, ...)
    inactive_per_hour: float  # $/h of inactive (stopped) workers: their storage
    states: dict[str, int]  # workers by state, as the autoscaler names them

    @property
    def total_per_hour(self) -> float:
        return round(self.active_per_hour + self.inactive_per_hour, 6)


def get_endpoint_costs(
    endpoint: int | str, *, api_key: str | None = None, api_url: str | None = None
) -> EndpointCosts:
    """The costs of endpoint ``endpoint`` (its id, or its name: the first endpoint of that name)."""
    config = _program_config()
    settings = ProviderSettings.resolve(api_key or config.get("apiKey"), api_url or config.get("apiUrl"))
    console = shared_client(settings)
    row = _endpoint(console, endpoint)
    workers = _autoscaler(settings).endpoint_workers(int(row["id"]))
    rows = {int(r["id"]): r for r in console.list_instances()}
    active = inactive = 0.0
    for worker in workers:
        state = str(worker.get("status") or "").upper()
        cost = _cost_now(rows.get(int(worker["id"])))
        if state in INACTIVE:
            inactive += cost
        elif state not in NOT_BILLED:
            active += cost
    states = Counter(str(w.get("status") or "").upper() for w in workers)
    return EndpointCosts(
        endpoint_id=int(row["id"]),
        endpoint_name=str(row.get("endpoint_name")),
        active_per_hour=round(active, 6),
        inactive_per_hour=round(inactive, 6),
        states=dict(sorted(states.items())),
    )


def _endpoint(client: VastClient, wanted: int | str) -> Row:
    for row in sorted(client.list_endpoints(), key=lambda r: int(r["id"])):
        if row.get("id") == wanted or row.get("endpoint_name") == wanted:
            return row
    raise VastInputError(f"endpoint: no endpoint {wanted!r} on this account (give its id or its name)")


def _autoscaler(settings: ProviderSettings) -> VastClient:
    """A client for the autoscaler's host: run.vast.ai for the console, else the same URL (an
    emulator, a proxy)."""
    url = SERVERLESS_URL if settings.api_url == DEFAULT_API_URL else settings.api_url
    return shared_client(ProviderSettings(api_key=settings.api_key, api_url=url))


def _cost_now(row: Row | None) -> float:
    """What the instance costs now: ``instance.totalHour`` (OpenAPI's Instance ``instance``), else
    ``dph_total`` while it runs and its storage otherwise."""
    if row is None:
        return 0.0  # listed by the autoscaler, not (yet or any more) by the console
    now: Any = (row.get("instance") or {}).get("totalHour")
    if isinstance(now, int | float):
        return float(now)
    running = row.get("actual_status") == "running"
    price: Any = row.get("dph_total") if running else row.get("storage_total_cost")
    return float(price) if isinstance(price, int | float) else 0.0
