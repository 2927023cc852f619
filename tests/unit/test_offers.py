"""Offer search with the CLI's query language, from a program or a script."""

from __future__ import annotations

import pytest

from vast_pulumi.emulator import Emulator
from vast_pulumi.offers import Offer, get_offers, order_clause


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
    [("dph_total", [["dph_total", "asc"]]), ("-score, dph_total", [["score", "desc"], ["dph_total", "asc"]])],
)
def test_order_is_the_clis_comma_list(order: str, clauses: list[list[str]]) -> None:
    assert order_clause(order) == clauses


@pytest.mark.parametrize("order", ["", "dph total", "-"])
def test_a_bad_order_is_refused(order: str) -> None:
    with pytest.raises(ValueError, match="order"):
        order_clause(order)
