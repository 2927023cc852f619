"""Local volumes: the volume market, renting, listing, deleting, and mounting through ``volume_info``."""

from __future__ import annotations

from typing import Any

import pytest

from tests.emulator.conftest import Api
from vast_pulumi.emulator import Emulator
from vast_pulumi.emulator.backend import Backend

# What `vastai search volumes` sends with no query (vastai/api/offers.py::search_volumes).
CLI_DEFAULT = {"verified": {"eq": True}, "external": {"eq": False}, "disk_space": {"gte": 1}}


def volume_offers(api: Api, **query: Any) -> list[dict[str, Any]]:
    response = api.post("/api/v0/volumes/search/", {**CLI_DEFAULT, "allocated_storage": 1.0, **query})
    assert response.status_code == 200, response.text
    offers: list[dict[str, Any]] = response.json()["offers"]
    return offers


def volumes(api: Api, kind: str = "all_volume") -> list[dict[str, Any]]:
    response = api.get("/api/v0/volumes", owner="me", type=kind)
    assert response.status_code == 200, response.text
    rows: list[dict[str, Any]] = response.json()["volumes"]
    return rows


def rent_volume(api: Api, offer_id: int, size: int = 20, **fields: Any) -> int:
    response = api.put("/api/v0/volumes/", {"id": offer_id, "size": size, **fields})
    assert response.status_code == 200, response.text
    name: str = response.json()["volume_name"]
    return int(name.removeprefix("V."))


def test_the_volume_market_is_seeded_and_deterministic() -> None:
    one, two, other = Backend(["k"], seed=5), Backend(["k"], seed=5), Backend(["k"], seed=6)
    assert one.state.volume_offers == two.state.volume_offers
    assert one.state.volume_offers != other.state.volume_offers
    assert len(one.state.volume_offers) >= 20
    gpu_machines = {o["machine_id"] for o in one.state.offers.values()}
    assert {o["machine_id"] for o in one.state.volume_offers.values()} <= gpu_machines


def test_search_filters_orders_limits_and_prices_the_allocated_storage(api: Api) -> None:
    offers = volume_offers(api, disk_space={"gte": 1000}, order=[["storage_cost", "asc"]], limit=5)
    assert 0 < len(offers) <= 5
    assert all(o["disk_space"] >= 1000 and o["verified"] is True for o in offers)
    assert [o["storage_cost"] for o in offers] == sorted(o["storage_cost"] for o in offers)
    first = offers[0]
    assert {
        "id",
        "machine_id",
        "host_id",
        "disk_space",
        "disk_name",
        "storage_cost",
        "inet_up",
        "inet_down",
        "reliability",
        "geolocation",
        "verification",
        "storage_total_cost",
    } <= set(first)
    priced = volume_offers(api, id={"eq": first["id"]}, allocated_storage=100.0)[0]
    assert priced["storage_total_cost"] == pytest.approx(first["storage_total_cost"] * 100, rel=1e-3)
    assert len(volume_offers(api, order=[["score", "desc"]])) <= 64  # the spec's default limit


def test_search_refuses_an_unknown_field(api: Api) -> None:
    response = api.post("/api/v0/volumes/search/", {"gpu_name": {"eq": "RTX 4090"}})
    assert response.status_code == 400
    assert response.json() == {
        "success": False,
        "error": "invalid_request",
        "msg": "Unknown search field: gpu_name",
    }


def test_rent_answers_the_volume_name_and_the_list_shows_the_volume(api: Api) -> None:
    offer = volume_offers(api, limit=1)[0]
    response = api.put("/api/v0/volumes/", {"id": offer["id"], "size": 40, "name": "datasets"})
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"success", "volume_name"}
    assert body["success"] is True
    volume_id = int(body["volume_name"].removeprefix("V."))
    (row,) = volumes(api)
    assert (row["id"], row["label"], row["disk_space"], row["instances"]) == (volume_id, "datasets", 40.0, [])
    assert (row["machine_id"], row["geolocation"]) == (offer["machine_id"], offer["geolocation"])
    assert isinstance(row["start_date"], float)  # the client computes the age from it
    assert volumes(api, "local_volume") == [row]
    assert volumes(api, "network_volume") == []
    # The offer serves more volumes until its space runs out.
    assert volume_offers(api, id={"eq": offer["id"]})[0]["disk_space"] == offer["disk_space"] - 40


@pytest.mark.parametrize(
    ("body", "status", "error"),
    [
        ({}, 400, "invalid_args"),
        ({"id": "x"}, 400, "invalid_args"),
        ({"id": 1, "size": 0}, 400, "invalid_args"),
        ({"id": 1, "size": 1.5}, 400, "invalid_args"),
        ({"id": 99}, 404, "no_such_ask"),
    ],
)
def test_rent_refuses_bad_bodies_and_unknown_offers(
    api: Api, body: dict[str, Any], status: int, error: str
) -> None:
    if body.get("id") == 1:
        body["id"] = volume_offers(api, limit=1)[0]["id"]
    response = api.put("/api/v0/volumes/", body)
    assert (response.status_code, response.json()["error"]) == (status, error)
    assert volumes(api) == []


def test_rent_bigger_than_the_offer_is_refused(api: Api) -> None:
    offer = volume_offers(api, limit=1)[0]
    response = api.put("/api/v0/volumes/", {"id": offer["id"], "size": int(offer["disk_space"]) + 1})
    assert response.status_code == 400
    assert response.json()["msg"].startswith("Invalid args: size: ")
    assert volumes(api) == []


def test_delete_by_query_parameter_as_the_client_or_by_body_as_the_spec(api: Api) -> None:
    offer = volume_offers(api, limit=1)[0]
    by_query, by_body = rent_volume(api, offer["id"]), rent_volume(api, offer["id"])
    response = api.call("DELETE", "/api/v0/volumes/", id=str(by_query))
    assert (response.status_code, response.json()) == (200, {"success": True})
    response = api.delete("/api/v0/volumes/", {"id": by_body})
    assert (response.status_code, response.json()) == (200, {"success": True})
    assert volumes(api) == []
    assert volume_offers(api, id={"eq": offer["id"]})[0]["disk_space"] == offer["disk_space"]  # space back


def test_delete_errors_as_the_spec_gives_them(api: Api, other_api: Api) -> None:
    theirs = rent_volume(other_api, volume_offers(other_api, limit=1)[0]["id"])
    missing = api.call("DELETE", "/api/v0/volumes/", id=str(theirs))
    assert missing.status_code == 404
    assert missing.json() == {
        "success": False,
        "error": "no_such_volume",
        "msg": "Volume with that ID does not exist.",
    }
    for bad in (api.delete("/api/v0/volumes/"), api.call("DELETE", "/api/v0/volumes/", id="abc")):
        assert bad.status_code == 400
        assert bad.json() == {
            "success": False,
            "error": "invalid_args",
            "msg": "Please provide a valid volume ID.",
        }
    assert [v["id"] for v in volumes(other_api)] == [theirs]


def test_list_refuses_an_unknown_type(api: Api) -> None:
    response = api.get("/api/v0/volumes/", type="floppy")
    assert (response.status_code, response.json()["error"]) == (400, "invalid_args")


def test_an_instance_create_can_make_a_new_volume_and_mount_it(api: Api) -> None:
    offer = volume_offers(api, limit=1)[0]
    info = {"create_new": True, "volume_id": offer["id"], "size": 30, "mount_path": "/data", "name": "cache"}
    instance_id = api.rent(volume_info=info)
    (volume,) = volumes(api)
    assert (volume["label"], volume["disk_space"], volume["instances"]) == ("cache", 30.0, [instance_id])
    row = api.instance(instance_id)
    assert row is not None
    assert row["volume_info"] == [
        {"id": volume["id"], "mount_path": "/data", "total_space": 30.0, "avail_space": 30.0}
    ]


def test_an_instance_create_can_link_an_existing_volume_which_then_cannot_be_deleted(api: Api) -> None:
    volume_id = rent_volume(api, volume_offers(api, limit=1)[0]["id"], size=25)
    instance_id = api.rent(volume_info={"create_new": False, "volume_id": volume_id, "mount_path": "/mnt/v"})
    row = api.instance(instance_id)
    assert row is not None
    assert [(v["id"], v["mount_path"]) for v in row["volume_info"]] == [(volume_id, "/mnt/v")]
    in_use = api.call("DELETE", "/api/v0/volumes/", id=str(volume_id))
    assert (in_use.status_code, in_use.json()["error"]) == (400, "invalid_args")
    assert str(instance_id) in in_use.json()["msg"]
    assert api.delete(f"/api/v0/instances/{instance_id}/").status_code == 200
    assert api.call("DELETE", "/api/v0/volumes/", id=str(volume_id)).status_code == 200


@pytest.mark.parametrize(
    ("info", "field"),
    [
        ("not an object", "volume_info"),
        ({"volume_id": 1, "mount_path": "/d"}, "volume_info.create_new"),
        ({"create_new": True, "volume_id": 1}, "volume_info.mount_path"),
        ({"create_new": True, "volume_id": 1, "mount_path": "relative"}, "volume_info.mount_path"),
        ({"create_new": True, "volume_id": 99, "mount_path": "/d"}, "volume_info.volume_id"),
        ({"create_new": True, "volume_id": 1, "size": 10**7, "mount_path": "/d"}, "volume_info.size"),
        ({"create_new": False, "volume_id": 99, "mount_path": "/d"}, "volume_info.volume_id"),
        ({"create_new": False, "volume_id": 1, "size": 5, "mount_path": "/d"}, "volume_info.size"),
    ],
)
def test_a_bad_volume_info_rents_nothing(api: Api, emulator: Emulator, info: Any, field: str) -> None:
    if isinstance(info, dict) and info.get("volume_id") == 1:
        info["volume_id"] = volume_offers(api, limit=1)[0]["id"]
    offer_id = api.offers(gpu_name={"eq": "RTX 4090"}, limit=1)[0]["id"]
    response = api.put(f"/api/v0/asks/{offer_id}/", {"image": "pytorch/pytorch", "volume_info": info})
    assert response.status_code == 400
    body = response.json()
    assert (body["error"], body["ask_id"]) == ("invalid_args", offer_id)
    assert body["msg"].startswith(f"Invalid args: {field}")
    assert offer_id in emulator.backend.state.offers  # the offer was not taken
    assert volumes(api) == []
    assert emulator.inventory()[0]["instances"] == []
