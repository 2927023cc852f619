"""Read-only lookups for Pulumi programs (they run at preview too) and scripts.

>>> from vast_pulumi import get_instances, get_templates, get_user, get_volume_offers
>>> get_user().credit                                   # $ left on the account
>>> [t["hash_id"] for t in get_templates("name=vLLM")]  # own and public templates
>>> get_instances(label="dev-box")                      # rows as the API lists them
>>> get_volume_offers("reliability>0.99", size=200)[0]["storage_cost"]  # $/GB/month

Like :func:`vast_pulumi.get_offers`, each call reads ``vast:apiKey``/``vast:apiUrl`` from the stack
config inside a program, else the environment (``VAST_API_KEY``, ``VAST_URL``) or the CLI's key file,
and shares the provider's client (pacing, connection pool) for that account.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

from vast_pulumi.client import Row, VastClient, shared_client
from vast_pulumi.errors import VastInputError
from vast_pulumi.offers import _program_config
from vast_pulumi.settings import ProviderSettings
from vast_pulumi.volume import DEFAULT_ORDER as VOLUME_ORDER
from vast_pulumi.volume import search_volume_offers

__all__ = ["User", "get_instance", "get_instances", "get_templates", "get_user", "get_volume_offers"]


class User(BaseModel):
    """The account the API key belongs to. Extra API fields are kept (``user.model_extra``)."""

    model_config = ConfigDict(extra="allow", frozen=True)

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
