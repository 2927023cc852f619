"""The offer market: /bundles/ and /search/asks/ filtering, ordering, limits; one rent per offer."""

from __future__ import annotations

from typing import Any

import pytest
from vastai.api.query import offers_alias, offers_fields, offers_mult, parse_query

from tests.emulator.conftest import Api
from vast_pulumi.emulator import Emulator, catalogue, volumeoffers
from vast_pulumi.emulator.backend import fresh_state
from vast_pulumi.emulator.catalogue import RENDERED_FIELDS, render_offer
from vast_pulumi.emulator.errors import ApiError
from vast_pulumi.emulator.matching import matches
from vast_pulumi.emulator.models import State

# What the official client sends for `search offers`, default filters first (vastai/api/offers.py).
CLI_DEFAULTS = {
    "verified": {"eq": True},
    "external": {"eq": False},
    "rentable": {"eq": True},
    "rented": {"eq": False},
}
CLI_QUERY = {
    **parse_query(
        "gpu_name=RTX_4090 num_gpus=1 reliability>0.95",
        CLI_DEFAULTS,
        offers_fields,
        offers_alias,
        offers_mult,
    ),
    "order": [["score", "desc"]],
    "type": "on-demand",
    "allocated_storage": 5.0,
}


def test_catalogue_is_large_realistic_and_seeded(emulator: Emulator) -> None:
    offers = list(emulator.backend.state.offers.values())
    assert len(offers) >= 150
    assert {"RTX 4090", "RTX 3090", "A100 SXM4", "H100 SXM", "L40S", "RTX A6000"} <= {
        o["gpu_name"] for o in offers
    }
    assert {o["num_gpus"] for o in offers} == {1, 2, 4, 8}
    single_4090 = [o for o in offers if o["gpu_name"] == "RTX 4090" and o["num_gpus"] == 1]
    assert len(single_4090) >= 40
    again = Emulator(api_keys=["x"], seed=1).backend.state.offers
    assert again == emulator.backend.state.offers  # same seed, same market
    assert Emulator(api_keys=["x"], seed=2).backend.state.offers != again


def test_offer_rows_have_the_documented_fields_in_api_units(api: Api) -> None:
    offer = api.offers(gpu_name={"eq": "RTX 4090"}, limit=1)[0]
    for field in [
        "id",
        "ask_contract_id",
        "bundle_id",
        "machine_id",
        "host_id",
        "num_gpus",
        "gpu_name",
        "gpu_ram",
        "gpu_total_ram",
        "gpu_frac",
        "compute_cap",
        "cuda_max_good",
        "driver_version",
        "cpu_cores_effective",
        "cpu_ram",
        "disk_space",
        "disk_bw",
        "inet_up",
        "inet_down",
        "direct_port_count",
        "dph_base",
        "dph_total",
        "min_bid",
        "storage_cost",
        "dlperf",
        "dlperf_per_dphtotal",
        "score",
        "reliability",
        "reliability2",
        "verification",
        "verified",
        "rentable",
        "rented",
        "is_bid",
        "geolocation",
        "public_ipaddr",
        "static_ip",
        "hosting_type",
        "vms_enabled",
        "start_date",
        "end_date",
        "duration",
    ]:
        assert field in offer, field
    assert offer["gpu_ram"] > 20000  # MB
    assert offer["disk_space"] < 100000  # GB
    assert offer["rented"] is False
    assert offer["dph_total"] > offer["dph_base"]  # storage is priced in


def test_cli_style_query_filters_and_orders(api: Api) -> None:
    offers = api.offers(**CLI_QUERY)
    assert len(offers) >= 20
    for offer in offers:
        assert (offer["gpu_name"], offer["num_gpus"], offer["verified"], offer["external"]) == (
            "RTX 4090",
            1,
            True,
            False,
        )
        assert offer["reliability"] > 0.95
    scores = [o["score"] for o in offers]
    assert scores == sorted(scores, reverse=True)


def test_order_ascending_limit_and_in_operator(api: Api) -> None:
    offers = api.offers(
        gpu_name={"in": ["RTX_3090", "RTX 4090"]},
        num_gpus={"gte": "2"},
        order=[["dph_total", "asc"]],
        limit=5,
    )
    assert len(offers) == 5
    assert {o["gpu_name"] for o in offers} <= {"RTX 3090", "RTX 4090"}
    assert all(o["num_gpus"] >= 2 for o in offers)
    prices = [o["dph_total"] for o in offers]
    assert prices == sorted(prices)


def test_search_asks_takes_the_query_under_q(api: Api) -> None:
    response = api.put("/api/v0/search/asks/", {"select_cols": ["*"], "q": {**CLI_QUERY, "limit": 3}})
    assert response.status_code == 200
    assert [o["id"] for o in response.json()["offers"]] == [o["id"] for o in api.offers(**CLI_QUERY, limit=3)]


def test_bid_search_prices_at_the_minimum_bid(api: Api) -> None:
    on_demand = {o["id"]: o for o in api.offers(gpu_name={"eq": "H100 SXM"})}
    bids = api.offers(gpu_name={"eq": "H100 SXM"}, type="bid")
    assert bids
    for offer in bids:
        assert offer["is_bid"] is True
        assert offer["dph_total"] < on_demand[offer["id"]]["dph_total"]


def test_unknown_search_field_is_a_400(api: Api) -> None:
    response = api.post("/api/v0/bundles/", {"flux_capacitor": {"gt": 1}})
    assert response.status_code == 400
    assert "flux_capacitor" in response.json()["msg"]


def test_a_rented_offer_is_gone_no_such_ask_as_invalid_args(api: Api) -> None:
    offer_id = api.offers(gpu_name={"eq": "RTX 4090"}, limit=1)[0]["id"]
    api.rent(offer_id)
    again = api.put(f"/api/v0/asks/{offer_id}/", {"image": "pytorch/pytorch"})
    assert again.status_code == 404
    assert again.json() == {
        "success": False,
        "error": "invalid_args",
        "msg": f"error 404/3603: no_such_ask Instance type by id {offer_id} is not available.",
        "ask_id": offer_id,
    }
    assert offer_id not in [o["id"] for o in api.offers(gpu_name={"eq": "RTX 4090"})]


def test_the_market_never_runs_dry_of_rtx_4090s(api: Api) -> None:
    query = {**CLI_QUERY, "order": [["dph_total", "asc"]], "limit": 1}
    before = len(api.offers(**{**CLI_QUERY, "limit": 1000}))
    rented = {api.rent(api.offers(**query)[0]["id"]) for _ in range(45)}
    assert len(rented) == 45
    assert len(api.offers(**{**CLI_QUERY, "limit": 1000})) == before


def test_allocated_storage_is_priced_in_and_defaults_to_8_gb(api: Api) -> None:
    query = {"gpu_name": {"eq": "RTX 4090"}, "order": [["id", "asc"]], "limit": 1}
    (default,) = api.offers(**query)
    (small,) = api.offers(**query, allocated_storage=8)
    (large,) = api.offers(**query, allocated_storage=500)
    assert default["dph_total"] == small["dph_total"]
    per_gb_hour = default["storage_cost"] / 730.0
    assert large["dph_total"] == round(default["dph_base"] + 500 * per_gb_hour, 6)
    assert large["search"]["diskHour"] == round(500 * per_gb_hour, 6)
    assert large["dph_total"] > small["dph_total"]


def test_a_search_renders_only_offers_its_stored_column_filters_pass_and_finds_the_same_rows() -> None:
    """``catalogue.search`` renders just the offers passing its filters on stored columns; the rows
    are those of rendering the whole market and filtering every row, for filters on stored and on
    rendered columns, aliases, every operator, bids and an unknown operator (which fails alike)."""
    state = fresh_state(5)
    probe = next(iter(state.offers.values()))
    changed = {
        k for k, v in render_offer(probe, storage=8.0, bid=True).items() if probe.get(k, object()) != v
    }
    assert changed <= RENDERED_FIELDS  # a column render_offer changes must be known as rendered

    def naive(query: dict[str, Any]) -> list[dict[str, Any]]:
        bid = query.get("type") == "bid"
        rows = [
            render_offer(o, storage=float(query.get("allocated_storage", 8.0)), bid=bid)
            for o in state.offers.values()
        ]
        rows = [row for row in rows if matches(row, {k: v for k, v in query.items() if isinstance(v, dict)})]
        return sorted(rows, key=lambda row: row["id"])

    queries: list[dict[str, Any]] = [
        {"gpu_name": {"eq": "RTX_4090"}, "num_gpus": {"eq": "1"}},
        {"gpu_name": {"in": ["RTX 3090", "L40S"]}, "dph": {"lt": 0.5}, "type": "bid"},
        {"reliability": {"gte": 0.95}, "score": {"gt": 100}, "allocated_storage": 50},
        {"geolocation": {"eq": "SE"}, "dlperf_usd": {"gte": 50}, "verified": {"eq": True}},
        {"driver_version": {"gte": "535086005"}, "num_gpus": {"notin": [1, 2]}, "flops_usd": {"neq": 0}},
        {"dph_total": {"lte": 1.0}},
        {"cuda_vers": {"gte": 12.4}, "rented": {"eq": False}},
    ]
    for query in queries:
        found = sorted(catalogue.search(state, query), key=lambda row: row["id"])
        assert found == naive(query), query
        assert found  # each query selects something: the comparison is not of two empty lists
    with pytest.raises(ApiError, match="unknown operator"):
        catalogue.search(state, {"gpu_name": {"eq": "RTX 4090"}, "dph": {"about": 1}})


def test_each_fresh_market_is_seeded_alike_and_is_its_own() -> None:
    """A seed's market is built once per process and copied (``backend.fresh_state``): each copy is the
    market seeding gives, and a change to one (a rent, a volume rent's disk) leaves the others alone."""
    seeded = State(seed=7)
    catalogue.seed_catalogue(seeded)
    volumeoffers.seed_volume_market(seeded)
    first, second = fresh_state(7), fresh_state(7)
    assert first == seeded and second == seeded
    offer_id, volume_offer_id = next(iter(first.offers)), next(iter(first.volume_offers))
    catalogue.take_offer(first, offer_id, holder=1)
    first.volume_offers[volume_offer_id]["disk_space"] = 0.0
    assert fresh_state(7) == seeded and second == seeded
