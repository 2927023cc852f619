"""Interruptible (spot) instances: a too-low bid leaves a stopped instance behind, the market outbids
a running one, and the bid can be changed."""

from __future__ import annotations

from typing import Any

import requests

from tests.emulator.conftest import Api, ManualClock
from vast_pulumi.emulator import Emulator


def bid_offer(api: Api) -> dict[str, Any]:
    (offer,) = api.offers(gpu_name={"eq": "RTX 4090"}, num_gpus={"eq": 1}, type="bid", limit=1)
    return offer


def test_a_bid_below_the_minimum_is_an_error_that_leaves_a_stopped_instance(api: Api) -> None:
    offer = bid_offer(api)
    low = round(offer["min_bid"] / 2, 4)
    response = api.put(f"/api/v0/asks/{offer['id']}/", {"image": "pytorch/pytorch", "disk": 16, "price": low})
    assert response.status_code == 400
    body = response.json()
    instance_id = body["new_contract"]
    assert body == {
        "success": False,
        "error": "invalid_price",
        "msg": f"Your bid of {low} is below the minimum bid of {offer['min_bid']} for this offer.",
        "new_contract": instance_id,
        "ask_id": offer["id"],
    }
    row = api.instance(instance_id)
    assert row is not None
    assert (row["actual_status"], row["cur_state"], row["intended_status"], row["next_state"]) == (
        "stopped",
        "stopped",
        "stopped",
        "stopped",
    )
    assert row["status_msg"].startswith("Stopped: outbid.")
    assert (row["is_bid"], row["search"]["gpuCostPerHour"], row["min_bid"]) == (True, low, offer["min_bid"])
    assert row["instance"]["gpuCostPerHour"] == 0.0  # stopped: only the disk costs
    assert [r["id"] for r in api.get("/api/v1/instances/").json()["instances"]] == [instance_id]
    # The machine's GPU is free: the offer stays on the market.
    assert offer["id"] in [o["id"] for o in api.offers(type="bid", limit=1000)]


def test_a_winning_bid_runs_and_shows_as_a_bid(api: Api, clock: ManualClock) -> None:
    offer = bid_offer(api)
    instance_id = api.rent(offer["id"], price=offer["min_bid"])
    clock.advance(1)
    row = api.instance(instance_id)
    assert row is not None
    assert (row["actual_status"], row["is_bid"]) == ("running", True)
    assert row["search"]["gpuCostPerHour"] == row["instance"]["gpuCostPerHour"] == offer["min_bid"]
    assert row["dph_total"] == round(offer["min_bid"] + row["storage_total_cost"], 6)


def test_the_market_outbids_a_running_interruptible(api: Api, emulator: Emulator, clock: ManualClock) -> None:
    offer = bid_offer(api)
    instance_id = api.rent(offer["id"], price=offer["min_bid"])
    clock.advance(1)
    response = requests.post(f"{emulator.url}/_emulator/instances/{instance_id}/outbid", json={}, timeout=10)
    row = response.json()["instance"]
    assert (row["actual_status"], row["cur_state"], row["intended_status"], row["next_state"]) == (
        "stopped",
        "stopped",
        "stopped",
        "stopped",
    )
    assert row["min_bid"] > offer["min_bid"]
    assert api.instance(instance_id) == {**row, "uptime_mins": None}

    # Starting it again does not help while the bid is too low.
    api.put(f"/api/v0/instances/{instance_id}/", {"state": "running"})
    clock.advance(1)
    assert api.instance(instance_id)["actual_status"] == "stopped"  # type: ignore[index]

    # Raising the bid lets it boot again.
    assert api.put(
        f"/api/v0/instances/bid_price/{instance_id}/", {"client_id": "me", "price": 1.0}
    ).json() == {"success": True}
    assert api.instance(instance_id)["actual_status"] == "loading"  # type: ignore[index]
    clock.advance(1)
    assert api.instance(instance_id)["actual_status"] == "running"  # type: ignore[index]


def test_only_an_interruptible_can_be_outbid(api: Api, emulator: Emulator) -> None:
    instance_id = api.rent()
    response = requests.post(f"{emulator.url}/_emulator/instances/{instance_id}/outbid", json={}, timeout=10)
    assert response.status_code == 400
    offer = bid_offer(api)
    bid = api.rent(offer["id"], price=offer["min_bid"])
    too_low = {"min_bid": offer["min_bid"] / 2}
    response = requests.post(f"{emulator.url}/_emulator/instances/{bid}/outbid", json=too_low, timeout=10)
    assert (response.status_code, response.json()["error"]) == (400, "invalid_args")


def test_change_bid_answers_as_the_spec_says(api: Api) -> None:
    offer = bid_offer(api)
    instance_id = api.rent(offer["id"], price=offer["min_bid"])
    path = f"/api/v0/instances/bid_price/{instance_id}/"
    assert api.put(path, {"client_id": "me", "price": 0.0001}).json() == {
        "success": False,
        "error": "invalid_args",
        "msg": "Please set a bid price >= 0.001.",
    }
    assert api.put(path, {"client_id": "me", "price": 33}).json()["msg"] == "Please set a bid price <= 32.0."
    unknown = api.put("/api/v0/instances/bid_price/999/", {"client_id": "me", "price": 0.5})
    assert (unknown.status_code, unknown.json()) == (
        404,
        {"success": False, "error": "no_such_instance", "msg": "Instance with that ID does not exist."},
    )
    assert api.put(path, {"client_id": "me", "price": 0.75}).json() == {"success": True}
    assert api.instance(instance_id)["search"]["gpuCostPerHour"] == 0.75  # type: ignore[index]
    # No price: the CLI's "winning bid" default, the current minimum.
    assert api.put(path, {"client_id": "me", "price": None}).json() == {"success": True}
    assert api.instance(instance_id)["search"]["gpuCostPerHour"] == offer["min_bid"]  # type: ignore[index]
