"""Offer search with the CLI's query language, from a program or a script."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

import pytest

from vast_pulumi.client import VastClient
from vast_pulumi.emulator import Emulator
from vast_pulumi.errors import OfferUnavailableError
from vast_pulumi.offers import Offer, get_offers, offer_filters, order_clause, rentable_offers, search_offers
from vast_pulumi.settings import ProviderSettings


def test_cheapest_first_and_every_offer_matches(emulator: Emulator) -> None:
    offers = get_offers("gpu_name=RTX_4090 num_gpus=1", api_key=emulator.api_keys[0], api_url=emulator.url)
    assert offers and all(isinstance(offer, Offer) for offer in offers)
    assert all((offer.gpu_name, offer.num_gpus) == ("RTX 4090", 1) for offer in offers)
    prices = [offer.dph_total for offer in offers]
    assert prices == sorted(prices)  # type: ignore[type-var]


def test_order_by_several_fields_descending_first(emulator: Emulator) -> None:
    offers = get_offers(
        "num_gpus=1", order="-dlperf,dph_total", limit=5, api_key=emulator.api_keys[0], api_url=emulator.url
    )
    assert len(offers) == 5
    perf = [offer.dlperf for offer in offers]
    assert perf == sorted(perf, reverse=True)  # type: ignore[type-var]


def test_sizes_are_in_gb_as_in_the_cli(emulator: Emulator) -> None:
    offers = get_offers("gpu_ram>=40", api_key=emulator.api_keys[0], api_url=emulator.url)
    assert offers and all(offer.gpu_ram is not None and offer.gpu_ram >= 40_000 for offer in offers)


def test_outside_a_program_settings_come_from_the_environment(
    emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VAST_API_KEY", emulator.api_keys[0])
    monkeypatch.setenv("VAST_URL", emulator.url)
    assert get_offers("num_gpus=1", limit=2)


@pytest.mark.parametrize(
    ("order", "clauses"),
    [
        ("dph_total", [["dph_total", "asc"]]),
        ("-score, dph_total", [["score", "desc"], ["dph_total", "asc"]]),
        # The official client's other spellings: a trailing "-" (its default is "score-"), "+", aliases.
        ("score-", [["score", "desc"]]),
        ("+dlperf,dph-", [["dlperf", "asc"], ["dph_total", "desc"]]),
    ],
)
def test_order_is_the_clis_comma_list(order: str, clauses: list[list[str]]) -> None:
    assert order_clause(order) == clauses


@pytest.mark.parametrize("order", ["", "dph total", "-"])
def test_a_bad_order_is_refused(order: str) -> None:
    with pytest.raises(ValueError, match="order"):
        order_clause(order)


@pytest.mark.parametrize(
    ("order", "hint"),
    [
        # The case: accepted before, and the API sorted by nothing (an unsorted pick).
        ("cheapest", "'cheapest' is not a field to order offers by; name offer fields, e.g. 'dph_total'"),
        ("dph_totl", "'dph_totl' is not a field to order offers by; did you mean 'dph_total'?"),
        ("-dlperf,reliabilty", "'reliabilty' is not a field to order offers by; did you mean 'reliability'?"),
    ],
)
def test_an_order_naming_no_offer_field_is_refused_with_the_closest(order: str, hint: str) -> None:
    with pytest.raises(ValueError) as error:
        order_clause(order)
    assert str(error.value).startswith(hint)


def test_a_search_is_for_a_disk_priced_with_it_and_only_offers_with_room_for_it(
    vast_emulator_factory: Callable[..., Emulator],
) -> None:
    emulator = vast_emulator_factory(seed=3)  # its cheapest RTX 4090 at 10 GB has 1000 GB of disk
    key, url = emulator.api_keys[0], emulator.url
    small = get_offers("gpu_name=RTX_4090", api_key=key, api_url=url)
    large = get_offers("gpu_name=RTX_4090", disk=1200, api_key=key, api_url=url)
    assert small[0].disk_space is not None and small[0].disk_space < 1200
    assert large and all(offer.disk_space is not None and offer.disk_space >= 1200 for offer in large)
    small_price = {offer.id: offer.dph_total for offer in small}
    # Storage is in the price: the same machine costs more with 1200 GB than with 10 GB.
    both = [offer for offer in large if offer.id in small_price]
    assert both and all(offer.dph_total > small_price[offer.id] for offer in both)  # type: ignore[operator]
    prices = [offer.dph_total for offer in large]
    assert prices == sorted(prices)  # type: ignore[type-var]


def test_a_query_that_filters_on_disk_space_decides_alone(
    vast_emulator_factory: Callable[..., Emulator],
) -> None:
    emulator = vast_emulator_factory(seed=3)
    offers = get_offers("disk_space<=500", disk=1200, api_key=emulator.api_keys[0], api_url=emulator.url)
    assert offers and all(offer.disk_space is not None and offer.disk_space <= 500 for offer in offers)


@pytest.mark.parametrize(
    ("query", "disk", "disk_filter"),
    [
        ("num_gpus=1", 32.0, {"gte": "32"}),
        ("num_gpus=1", 12.5, {"gte": "12.5"}),
        ("disk_space>100", 32, None),
    ],
)
def test_the_disk_filter_is_written_as_the_cli_writes_numbers(
    query: str, disk: float, disk_filter: dict[str, str] | None
) -> None:
    filters = offer_filters(query, disk)
    if disk_filter is None:
        assert filters["disk_space"] == {"gt": "100"}
    else:
        assert filters["disk_space"] == disk_filter


class ListedOffers:
    """A client whose search answers with fixed rows (a lagging index lists a rented offer)."""

    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []

    def search_offers(self, body: dict[str, Any]) -> list[dict[str, Any]]:
        self.bodies.append(body)
        return [{"id": 1, "dph_total": 0.2, "rented": True}, {"id": 2, "dph_total": 0.3, "rented": False}]


@pytest.mark.parametrize(("query", "ids"), [("num_gpus=1", [2]), ("num_gpus=1 rented=any", [1, 2])])
def test_rented_offers_are_dropped_unless_the_query_asks_for_them(query: str, ids: list[int]) -> None:
    client = ListedOffers()
    offers = search_offers(cast(VastClient, client), query)
    assert [offer.id for offer in offers] == ids
    (body,) = client.bodies
    assert ("rented" in body) is (ids == [2])


def test_the_search_body_carries_the_disk_as_allocated_storage() -> None:
    client = ListedOffers()
    search_offers(cast(VastClient, client), "num_gpus=1", disk=48.0, order="dph")
    (body,) = client.bodies
    assert (body["allocated_storage"], body["disk_space"], body["order"]) == (
        48.0,
        {"gte": "48"},
        [["dph_total", "asc"]],
    )


def _client(emulator: Emulator) -> VastClient:
    return VastClient(ProviderSettings(api_key=emulator.api_keys[0], api_url=emulator.url))


def test_a_bid_below_every_matching_offer_names_the_lowest_min_bid(emulator: Emulator) -> None:
    client = _client(emulator)
    matching = search_offers(client, "gpu_name=RTX_4090", interruptible=True)
    lowest = min(offer.min_bid for offer in matching if offer.min_bid is not None)
    with pytest.raises(OfferUnavailableError) as error:
        rentable_offers(client, "gpu_name=RTX_4090", price=lowest / 2)
    # Offers do match: the message says the bid is what is wrong, and how low it may go.
    assert "below the min_bid of every offer matching offer_query 'gpu_name=RTX_4090'" in str(error.value)
    assert f"the lowest is ${lowest:g}/h" in str(error.value)
    assert rentable_offers(client, "gpu_name=RTX_4090", price=lowest)


def test_no_match_for_a_gpu_name_vast_does_not_know_names_the_closest(emulator: Emulator) -> None:
    with pytest.raises(OfferUnavailableError) as error:
        rentable_offers(_client(emulator), "gpu_name=RTX4090 num_gpus=1")
    assert str(error.value) == (
        "no offer matches offer_query 'gpu_name=RTX4090 num_gpus=1' with 10 GB of disk right now; "
        "gpu_name 'RTX4090' is no GPU Vast.ai knows; did you mean 'RTX_4090'?"
    )
