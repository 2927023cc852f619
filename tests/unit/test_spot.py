"""Interruptible (spot) instances and rents nobody can use, against the emulator: a refused bid
leaves nothing, a bid reads back or the rent is undone, a new bid is an in-place change, an outbid
instance shows and says what to do, and a double rent is destroyed for the next offer."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.unit.conftest import api_calls, configured
from vast_pulumi._instances import InstanceOps, create_body
from vast_pulumi._reconcile import CreateFailedError
from vast_pulumi.client import Row
from vast_pulumi.emulator import Emulator
from vast_pulumi.instance import (
    MARKER_ENV,
    InstanceInputs,
    InstanceNotReadyError,
    InstanceProvider,
)
from vast_pulumi.offers import search_offers

QUERY = "gpu_name=RTX_4090 num_gpus=1"
MARKER = "5b07b1dcafe5b07b"
RENT = ("PUT", "/api/v0/asks/{id}/")
DESTROY = ("DELETE", "/api/v0/instances/{id}/")
BID = ("PUT", "/api/v0/instances/bid_price/{id}/")


@pytest.fixture(autouse=True)
def quick_polls(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("vast_pulumi._instances.POLL_SECONDS", 0.1)


@pytest.fixture
def provider(connect: Callable[[InstanceProvider], InstanceProvider]) -> InstanceProvider:
    return connect(InstanceProvider())


def checked(provider: InstanceProvider, **changes: Any) -> dict[str, Any]:
    where = {} if "offer_id" in changes else {"offer_query": QUERY}
    inputs = {**where, "image": "pytorch/pytorch", "disk": 16.0, "_marker": MARKER, **changes}
    result = provider.check({}, {"__provider": "blob", **inputs})
    assert result.failures == []
    return {**result.inputs, "__provider": "blob"}


def instances(emulator: Emulator) -> list[Row]:
    rows: list[Row] = emulator.inventory()[0]["instances"]
    return rows


def bid_offer(provider: InstanceProvider) -> Any:
    return search_offers(provider.client, QUERY, limit=1, interruptible=True, disk=16.0)[0]


def the_row(provider: InstanceProvider, instance_id: str) -> Row:
    row = provider.client.get_instance(int(instance_id))
    assert row is not None
    return row


# -- a refused bid ---------------------------------------------------------------------------------------


def test_a_bid_below_the_minimum_fails_and_destroys_the_instance_the_refusal_left(
    provider: InstanceProvider, emulator: Emulator
) -> None:
    offer = bid_offer(provider)
    mark = len(emulator.request_log())
    with pytest.raises(CreateFailedError, match=r"invalid_price.*it was deleted, so nothing is left billing"):
        provider.create(checked(provider, offer_id=offer.id, price=round(offer.min_bid / 2, 4)))
    calls = api_calls(emulator, mark)
    assert calls.count(RENT) == 1
    assert calls.index(DESTROY) > calls.index(RENT)  # the stopped instance the 400 named
    assert instances(emulator) == []


def test_a_rent_with_price_that_reads_back_on_demand_is_destroyed_and_fails(
    provider: InstanceProvider, emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    rent = provider.client.create_instance

    def rent_dropping_the_bid(offer_id: int, body: Any) -> Row:  # a server that ignores price
        return rent(offer_id, {key: value for key, value in body.items() if key != "price"})

    monkeypatch.setattr(provider.client, "create_instance", rent_dropping_the_bid)
    offer = bid_offer(provider)
    with pytest.raises(InstanceNotReadyError, match=r"price=.* reads back as on-demand.*was destroyed"):
        provider.create(checked(provider, offer_id=offer.id, price=offer.min_bid + 0.05))
    assert instances(emulator) == []


# -- a new bid -------------------------------------------------------------------------------------------


def test_a_price_change_is_an_in_place_bid_change(provider: InstanceProvider, emulator: Emulator) -> None:
    offer = bid_offer(provider)
    first = round(offer.min_bid + 0.05, 4)
    created = provider.create(checked(provider, offer_id=offer.id, price=first))
    assert created.outs is not None
    row = the_row(provider, created.id)
    assert (row["is_bid"], row["search"]["gpuCostPerHour"]) == (True, first)

    news = checked(provider, offer_id=offer.id, price=first + 0.1)
    diff = provider.diff(created.id, created.outs, news)
    assert diff.changes and not diff.replaces
    mark = len(emulator.request_log())
    provider.update(created.id, created.outs, news)
    assert BID in api_calls(emulator, mark) and RENT not in api_calls(emulator, mark)
    assert the_row(provider, created.id)["search"]["gpuCostPerHour"] == pytest.approx(first + 0.1)
    (only,) = instances(emulator)
    assert str(only["id"]) == created.id


@pytest.mark.parametrize(("old", "new"), [(None, 0.5), (0.5, None)])
def test_on_demand_and_interruptible_are_different_instances(
    old: float | None, new: float | None, provider: InstanceProvider
) -> None:
    olds = {"offer_query": QUERY, "image": "i", "price": old}
    news = {"offer_query": QUERY, "image": "i", "price": new}
    assert provider.diff("1", olds, news).replaces == ["price"]


def test_refresh_reads_the_bid_back_within_the_tolerance(
    provider: InstanceProvider, emulator: Emulator
) -> None:
    offer = bid_offer(provider)
    price = round(offer.min_bid + 0.05, 4)
    created = provider.create(checked(provider, offer_id=offer.id, price=price))
    assert created.outs is not None
    assert provider.read(created.id, created.outs).inputs is None  # the bid reads back as given
    provider.client.change_bid(int(created.id), price + 0.1)  # changed outside the stack
    provider.client._instances.invalidate()
    read = provider.read(created.id, created.outs)
    assert read.outs is not None and read.inputs is not None
    assert read.outs["price"] == read.inputs["price"] == pytest.approx(price + 0.1)
    # The next preview changes the bid back, in place.
    assert (
        provider.diff(created.id, read.outs, checked(provider, offer_id=offer.id, price=price)).replaces == []
    )


def test_refresh_of_an_on_demand_instance_reads_no_price(provider: InstanceProvider) -> None:
    created = provider.create(checked(provider))
    assert created.outs is not None
    read = provider.read(created.id, created.outs)
    assert read.inputs is None and read.outs is not None and read.outs["price"] is None


# -- outbid ----------------------------------------------------------------------------------------------


def test_an_outbid_instance_reads_as_stopped_and_restarts_once_its_bid_is_raised(
    provider: InstanceProvider, emulator: Emulator
) -> None:
    offer = bid_offer(provider)
    price = round(offer.min_bid + 0.05, 4)
    created = provider.create(checked(provider, offer_id=offer.id, price=price))
    assert created.outs is not None
    emulator.outbid(int(created.id), min_bid=price + 0.2)
    provider.client._instances.invalidate()  # the market acted, not this client: a refresh lists anew

    read = provider.read(created.id, created.outs)
    assert read.outs is not None and read.inputs is not None
    assert read.outs["target_state"] == read.inputs["target_state"] == "stopped"  # the drift shows

    same_bid = checked(provider, offer_id=offer.id, price=price)
    with pytest.raises(InstanceNotReadyError, match=r"outbid: its bid of .* raise price"):
        provider.update(created.id, read.outs, same_bid)

    raised = checked(provider, offer_id=offer.id, price=price + 0.3)
    updated = provider.update(created.id, read.outs, raised)
    assert updated.outs is not None and updated.outs["actual_status"] == "running"
    assert the_row(provider, created.id)["actual_status"] == "running"


# -- a rent nobody can use -------------------------------------------------------------------------------


def test_a_double_rent_that_never_starts_is_destroyed_and_the_next_offer_rented(
    vast_emulator_factory: Callable[..., Emulator], monkeypatch: pytest.MonkeyPatch
) -> None:
    emulator = vast_emulator_factory(double_rent=True)
    provider = configured(InstanceProvider(), emulator.url, emulator.api_keys[0])
    others: list[int] = []
    candidates = InstanceOps.candidates

    def someone_rents_the_best_first(self: InstanceOps, inputs: InstanceInputs) -> Iterator[int]:
        offers = list(candidates(self, inputs))  # the search is answered; then another renter takes the best
        others.append(int(self.client.create_instance(offers[0], {"image": "x", "disk": 16})["new_contract"]))
        return iter(offers)

    monkeypatch.setattr(InstanceOps, "candidates", someone_rents_the_best_first)
    mark = len(emulator.request_log())
    created = provider.create(checked(provider))
    assert created.outs is not None
    rents = api_calls(emulator, mark).count(RENT)
    assert rents == 3  # the other renter's, our double rent, our rent of the next offer
    ours = [row for row in instances(emulator) if dict(row["extra_env"]).get(MARKER_ENV) == MARKER]
    assert [str(row["id"]) for row in ours] == [created.id]
    assert ours[0]["actual_status"] == "running"
    assert DESTROY in api_calls(emulator, mark)
    assert {int(row["id"]) for row in instances(emulator)} == {int(created.id), *others}


def test_a_pinned_offer_that_never_starts_fails_without_another_rent(
    vast_emulator_factory: Callable[..., Emulator],
) -> None:
    emulator = vast_emulator_factory(double_rent=True)
    provider = configured(InstanceProvider(), emulator.url, emulator.api_keys[0])
    offer = search_offers(provider.client, QUERY, limit=1, disk=16.0)[0]
    other = provider.client.create_instance(offer.id, {"image": "x", "disk": 16})["new_contract"]
    mark = len(emulator.request_log())
    with pytest.raises(InstanceNotReadyError, match=r"OCI runtime.*was destroyed.*is the only offer to try"):
        provider.create(checked(provider, offer_id=offer.id))
    assert api_calls(emulator, mark).count(RENT) == 1
    assert [row["id"] for row in instances(emulator)] == [other]


# -- cancel_unavail --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "price", "sent"),
    [(None, None, True), (None, 0.4, False), (True, 0.4, True), (False, None, False)],
)
def test_cancel_unavail_unset_follows_the_apis_default(
    given: bool | None, price: float | None, sent: bool
) -> None:
    inputs = InstanceInputs.model_validate(
        {"offer_id": 1, "image": "i", "cancel_unavail": given, "price": price}
    )
    assert create_body(inputs, "m")["cancel_unavail"] is sent


def test_a_stack_that_recorded_cancel_unavail_true_sees_no_change() -> None:
    provider = InstanceProvider()
    olds = {"offer_query": QUERY, "image": "i", "cancel_unavail": True}
    news = {"offer_query": QUERY, "image": "i", "cancel_unavail": None}
    assert not provider.diff("1", olds, news).changes
