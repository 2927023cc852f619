"""What a serverless endpoint's workers cost now, read from the API: the bill of a ``cold_workers``
or ``min_load`` choice before the invoice shows it.

>>> from vast_pulumi import get_endpoint_costs
>>> costs = get_endpoint_costs("inference")      # by name, or by id
>>> costs.active_per_hour, costs.inactive_per_hour, costs.states   # $/h, $/h, {"IDLE": 1, "STOPPED": 4}

The workers and their states come from the autoscaler (``POST /get_endpoint_workers/`` on
``https://run.vast.ai``, or on ``vast:apiUrl`` when that is not the console's, as the official client
does); what each costs now from its instance row (``instance.totalHour``: GPU and storage while it
holds its GPU, storage only while stopped). Billing per state is the docs' table
(``guides/serverless/worker-states.mdx``, ``pricing.mdx``): inactive workers (STOPPED, STOPPING) bill
storage; DESTROYING, ERROR and PENDING bill nothing; every other state is billed as active.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from pydantic import BaseModel, ConfigDict

from vast_pulumi.client import Row, VastClient, shared_client
from vast_pulumi.errors import VastInputError
from vast_pulumi.offers import _program_config
from vast_pulumi.settings import DEFAULT_API_URL, ProviderSettings

__all__ = ["EndpointCosts", "get_endpoint_costs"]

SERVERLESS_URL = "https://run.vast.ai"
INACTIVE = frozenset({"STOPPED", "STOPPING"})
NOT_BILLED = frozenset({"DESTROYING", "ERROR", "PENDING"})


class EndpointCosts(BaseModel):
    """An endpoint's workers now: $/h of the active and of the inactive ones, and counts by state."""

    model_config = ConfigDict(frozen=True)

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
    return float(row.get("dph_total") if running else row.get("storage_total_cost") or 0.0)
