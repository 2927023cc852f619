"""Instances: renting, the lifecycle, management, v1 paging, the deprecated v0 list, destroy."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests

from tests.emulator.conftest import Api, ManualClock
from vast_pulumi.emulator import Emulator


def test_create_answers_new_contract_and_a_secret_instance_key(api: Api, emulator: Emulator) -> None:
    offer = api.offers(gpu_name={"eq": "RTX 4090"}, limit=1)[0]
    response = api.put(
        f"/api/v0/asks/{offer['id']}/", {"client_id": "me", "image": "pytorch/pytorch", "disk": 32}
    )
    body = response.json()
    assert body["success"] is True
    assert body["instance_api_key"] == emulator.instance_api_key(body["new_contract"])
    row = api.instance(body["new_contract"])
    assert row is not None
    assert "instance_api_key" not in row


def status_of(api: Api, instance_id: int) -> str | None:
    row = api.instance(instance_id)
    assert row is not None
    status: str | None = row["actual_status"]
    return status


def test_lifecycle_null_then_loading_then_running_with_ports(api: Api, clock: ManualClock) -> None:
    instance_id = api.rent(env={"-p 8000:8000": "1", "HF_TOKEN": "x"}, label="box")
    row = api.instance(instance_id)
    assert row is not None
    assert row["actual_status"] is None
    assert (row["intended_status"], row["cur_state"], row["next_state"]) == ("running", "running", "running")
    assert row["ports"] == {}
    clock.advance(0.1)  # boot_seconds is 0.3: the first fifth is provisioning
    assert status_of(api, instance_id) == "loading"
    clock.advance(0.25)
    running = api.instance(instance_id)
    assert running is not None
    assert running["actual_status"] == "running"
    assert set(running["ports"]) == {"22/tcp", "8000/tcp"}
    assert running["ports"]["22/tcp"][0]["HostIp"] == "0.0.0.0"
    assert running["extra_env"] == [["-p 8000:8000", "1"], ["HF_TOKEN", "x"]]
    assert running["ssh_host"].startswith("ssh") and running["ssh_host"].endswith(".vast.ai")
    assert isinstance(running["ssh_port"], int)
    assert running["label"] == "box"
    assert len(running["jupyter_token"]) == 64


def test_instance_row_copies_the_offer_and_the_request(api: Api) -> None:
    offer = api.offers(gpu_name={"eq": "A100 SXM4"}, num_gpus={"eq": 2}, limit=1)[0]
    instance_id = api.rent(offer["id"], disk=50, onstart="echo hi", runtype="ssh_direc ssh_proxy")
    row = api.instance(instance_id)
    assert row is not None
    for field in (
        "gpu_name",
        "num_gpus",
        "gpu_ram",
        "cpu_ram",
        "dph_base",
        "min_bid",
        "machine_id",
        "host_id",
    ):
        assert row[field] == offer[field], field
    assert row["reliability2"] == offer["reliability2"]
    assert row["geolocation"] == offer["geolocation"]
    assert row["disk_space"] == 50
    assert row["dph_total"] > row["dph_base"]
    assert (row["image_uuid"], row["onstart"], row["image_runtype"]) == (
        "pytorch/pytorch",
        "echo hi",
        "ssh_direc ssh_proxy",
    )
    assert row["is_bid"] is False
    assert isinstance(row["start_date"], float)


def test_docker_flag_env_string_is_accepted(api: Api) -> None:
    instance_id = api.rent(env="-e TZ=UTC -p 8080:8080 -h box")
    row = api.instance(instance_id)
    assert row is not None
    assert row["extra_env"] == [["TZ", "UTC"], ["-p 8080:8080", "1"], ["-h", "box"]]


def test_stop_start_and_label(api: Api, clock: ManualClock) -> None:
    instance_id = api.rent()
    clock.advance(1)
    assert status_of(api, instance_id) == "running"
    assert api.put(f"/api/v0/instances/{instance_id}/", {"state": "stopped"}).json() == {"success": True}
    row = api.instance(instance_id)
    assert row is not None
    assert (row["actual_status"], row["intended_status"], row["cur_state"]) == (
        "stopped",
        "stopped",
        "stopped",
    )
    assert row["ports"] == {}
    assert api.put(f"/api/v0/instances/{instance_id}/", {"state": "running"}).json() == {"success": True}
    assert status_of(api, instance_id) == "loading"  # a restart skips provisioning
    clock.advance(1)
    assert status_of(api, instance_id) == "running"
    assert api.put(f"/api/v0/instances/{instance_id}/", {"label": "renamed"}).json() == {"success": True}
    assert api.instance(instance_id)["label"] == "renamed"  # type: ignore[index]


def test_target_state_stopped_creates_a_stopped_instance(api: Api) -> None:
    instance_id = api.rent(target_state="stopped")
    row = api.instance(instance_id)
    assert row is not None
    assert (row["actual_status"], row["intended_status"]) == ("stopped", "stopped")


def test_update_template_reloads_the_instance(api: Api, clock: ManualClock) -> None:
    instance_id = api.rent()
    clock.advance(1)
    body = {"id": instance_id, "image": "vllm/vllm-openai", "env": {"A": "1"}, "onstart": "run.sh"}
    response = api.put(f"/api/v0/instances/update_template/{instance_id}/", body)
    updated = response.json()["updated_instance"]
    assert response.json()["success"] is True
    assert (updated["image_uuid"], updated["extra_env"], updated["onstart"]) == (
        "vllm/vllm-openai",
        [["A", "1"]],
        "run.sh",
    )
    assert updated["actual_status"] == "loading"
    clock.advance(1)
    assert status_of(api, instance_id) == "running"


def test_create_from_a_template(api: Api) -> None:
    template = api.post(
        "/api/v0/template/",
        {
            "name": "torch",
            "image": "pytorch/pytorch",
            "tag": "2.5",
            "env": "-e A=1 -p 8888:8888",
            "runtype": "ssh",
        },
    ).json()["template"]
    offer_id = api.offers(gpu_name={"eq": "RTX 4090"}, limit=1)[0]["id"]
    response = api.put(
        f"/api/v0/asks/{offer_id}/", {"template_hash_id": template["hash_id"], "env": {"B": "2"}}
    )
    row = api.instance(response.json()["new_contract"])
    assert row is not None
    assert (row["image_uuid"], row["template_hash_id"], row["template_id"]) == (
        "pytorch/pytorch:2.5",
        template["hash_id"],
        template["id"],
    )
    assert dict(row["extra_env"]) == {"A": "1", "-p 8888:8888": "1", "B": "2"}
    assert row["image_runtype"] == "ssh_proxy"


@pytest.mark.parametrize(
    ("body", "status", "error", "named"),
    [
        ({}, 400, "invalid_args", "image"),
        ({"image": "x", "onstart": "x" * 4049}, 400, "invalid_args", "onstart"),
        ({"image": "x", "disk": 0}, 400, "invalid_args", "disk"),
        ({"image": "x", "disk": "big"}, 400, "invalid_args", "disk"),
        ({"image": "x", "disk": 100_000}, 400, "invalid_args", "disk_space"),
        ({"image": "x", "label": "x" * 1025}, 400, "invalid_args", "label"),
        ({"image": "x", "target_state": "paused"}, 400, "invalid_args", "target_state"),
        ({"image": "x", "runtype": "telnet"}, 400, "invalid_args", "runtype"),
        ({"image": "x", "price": 1000}, 400, "invalid_args", "price"),
        ({"image": "x", "price": 0.001}, 400, "invalid_price", "minimum bid"),
        ({"template_hash_id": "nope"}, 400, "invalid_args", "template_hash_id"),
    ],
)
def test_create_refuses_bad_bodies_and_keeps_the_offer(
    api: Api, emulator: Emulator, body: dict[str, Any], status: int, error: str, named: str
) -> None:
    offer_id = api.offers(gpu_name={"eq": "RTX 4090"}, limit=1)[0]["id"]
    response = api.put(f"/api/v0/asks/{offer_id}/", body)
    assert response.status_code == status
    assert response.json()["error"] == error
    assert named in response.json()["msg"]
    assert response.json()["ask_id"] == offer_id
    assert offer_id in emulator.backend.state.offers


def test_an_onstart_of_exactly_4048_chars_is_accepted(api: Api) -> None:
    assert api.rent(onstart="x" * 4048) > 0


def test_a_bid_at_or_above_min_bid_makes_an_interruptible_instance(api: Api) -> None:
    offer = api.offers(gpu_name={"eq": "RTX 3090"}, limit=1)[0]
    instance_id = api.rent(offer["id"], price=offer["min_bid"])
    row = api.instance(instance_id)
    assert row is not None
    assert row["is_bid"] is True
    assert row["dph_total"] < offer["dph_total"] + 0.01


def test_destroy_then_show_is_instances_null_once_the_destroy_has_finished(
    api: Api, emulator: Emulator, clock: ManualClock
) -> None:
    instance_id = api.rent()
    assert api.delete(f"/api/v0/instances/{instance_id}/", {}).json() == {"success": True}
    clock.advance(emulator.backend.destroy_seconds)
    response = api.get(f"/api/v0/instances/{instance_id}/", owner="me")
    assert (response.status_code, response.json()) == (200, {"instances": None})
    again = api.delete(f"/api/v0/instances/{instance_id}/", {})
    assert (again.status_code, again.json()["error"]) == (404, "not_found")


def test_unknown_instance_is_instances_null(api: Api) -> None:
    assert api.get("/api/v0/instances/12345/").json() == {"instances": None}


def test_the_v0_instance_list_is_deprecated(api: Api) -> None:
    api.rent()
    response = api.get("/api/v0/instances/", owner="me")
    assert response.status_code == 410
    assert response.json() == {
        "success": False,
        "error": "deprecated_endpoint",
        "msg": "/api/v0/instances/ is deprecated. Use /api/v1/instances/ instead.",
    }


def test_v1_pages_through_more_than_one_page(api: Api) -> None:
    created = [api.rent(label=f"box-{n % 3}") for n in range(30)]
    seen: list[int] = []
    params: dict[str, Any] = {"select_filters": {}, "order_by": [{"col": "id", "dir": "asc"}], "limit": 25}
    pages = 0
    while True:
        page = api.get("/api/v1/instances/", **params).json()
        pages += 1
        assert page["success"] is True
        assert page["total_instances"] == 30
        assert page["instances_found"] == len(page["instances"])
        assert page["label_counts"] == {"box-0": 10, "box-1": 10, "box-2": 10}
        seen += [row["id"] for row in page["instances"]]
        if page["next_token"] is None:
            break
        params["after_token"] = page["next_token"]
    assert pages == 2
    assert seen == sorted(created)


def test_v1_limit_caps_at_25_and_orders_descending(api: Api) -> None:
    created = [api.rent() for _ in range(27)]
    page = api.get("/api/v1/instances/", limit=100, order_by=[{"col": "id", "dir": "desc"}]).json()
    assert len(page["instances"]) == 25
    assert [r["id"] for r in page["instances"]] == sorted(created, reverse=True)[:25]
    rest = api.get(
        "/api/v1/instances/",
        limit=100,
        order_by=[{"col": "id", "dir": "desc"}],
        after_token=page["next_token"],
    ).json()
    assert [r["id"] for r in rest["instances"]] == sorted(created, reverse=True)[25:]
    assert rest["next_token"] is None


def test_v1_filters_and_select_cols(api: Api) -> None:
    keep = api.rent(label="keep")
    api.rent(label="other")
    page = api.get(
        "/api/v1/instances/",
        select_filters={"label": {"eq": "keep"}},
        select_cols=["id", "label", "nonexistent"],
    ).json()
    assert page["instances"] == [{"id": keep, "label": "keep", "nonexistent": None}]
    unlabeled = api.get("/api/v1/instances/", select_filters={"label": {"in": [None]}}).json()
    assert unlabeled["instances"] == []


@pytest.mark.parametrize(
    "params",
    [
        {"select_filters": {"dph_total": {"lt": 1}}},
        {"select_filters": {"no_such_column": {"eq": 1}}},
        {"order_by": [{"col": "no_such_column", "dir": "asc"}]},
        {"after_token": "not-a-token"},
        {"select_filters": "{not json"},
    ],
)
def test_v1_bad_column_or_token_is_400_invalid_request(api: Api, params: dict[str, Any]) -> None:
    response = api.get("/api/v1/instances/", **params)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"


def test_bulk_stop_and_destroy(api: Api, emulator: Emulator, clock: ManualClock) -> None:
    ids = [api.rent() for _ in range(3)]
    assert api.put("/api/v0/instances/", {"state": "stopped", "ids": ids}).json() == {"success": True}
    assert {api.instance(i)["intended_status"] for i in ids} == {"stopped"}  # type: ignore[index]
    assert api.delete("/api/v0/instances/", {"instance_ids": ids}).json() == {"success": True}
    assert {api.instance(i)["next_state"] for i in ids} == {"unloaded"}  # type: ignore[index]
    clock.advance(emulator.backend.destroy_seconds)
    assert [api.instance(i) for i in ids] == [None, None, None]


def test_reboot_reloads(api: Api, clock: ManualClock) -> None:
    instance_id = api.rent()
    clock.advance(1)
    assert api.put(f"/api/v0/instances/reboot/{instance_id}/", {}).json() == {"success": True}
    assert status_of(api, instance_id) == "loading"


def test_running_is_reached_when_boot_seconds_have_passed_on_the_emulators_clock(
    api: Api, emulator: Emulator, clock: ManualClock
) -> None:
    instance_id = api.rent()
    clock.advance(emulator.backend.boot_seconds - 0.01)
    assert status_of(api, instance_id) == "loading"
    clock.advance(0.02)
    assert status_of(api, instance_id) == "running"


# Asynchronous destroy.


def test_a_destroyed_instance_lingers_being_destroyed_then_disappears(
    api: Api, emulator: Emulator, clock: ManualClock
) -> None:
    instance_id = api.rent(label="dying")
    clock.advance(1)
    assert api.delete(f"/api/v0/instances/{instance_id}/", {}).json() == {"success": True}
    row = api.instance(instance_id)
    assert row is not None
    assert (row["label"], row["actual_status"], row["intended_status"], row["cur_state"]) == (
        "dying",
        "stopped",
        "stopped",
        "stopped",
    )
    assert (row["next_state"], row["status_msg"], row["ports"]) == ("unloaded", "Destroying instance.", {})
    assert [r["id"] for r in api.get("/api/v1/instances/").json()["instances"]] == [instance_id]
    # A repeated DELETE is accepted; any other change finds nothing.
    assert api.delete(f"/api/v0/instances/{instance_id}/", {}).json() == {"success": True}
    started = api.put(f"/api/v0/instances/{instance_id}/", {"state": "running"})
    assert (started.status_code, started.json()["error"]) == (404, "not_found")

    clock.advance(emulator.backend.destroy_seconds - 0.01)
    assert api.instance(instance_id) is not None
    clock.advance(0.01)
    assert api.instance(instance_id) is None
    assert api.get("/api/v1/instances/").json()["instances"] == []


def test_destroy_is_immediate_with_destroy_seconds_0() -> None:
    with Emulator(api_keys=["k"], destroy_seconds=0) as emu:
        api = Api(emu.url, "k")
        instance_id = api.rent()
        api.delete(f"/api/v0/instances/{instance_id}/", {})
        assert api.instance(instance_id) is None


# Double rents (``double_rent``).


def test_a_second_rent_of_a_rented_offer_is_accepted_and_never_starts(double_renting_api: Api) -> None:
    api = double_renting_api
    offer_id = api.offers(gpu_name={"eq": "RTX 4090"}, limit=1)[0]["id"]
    first = api.rent(offer_id)
    second = api.rent(offer_id, cancel_unavail=False)
    assert second != first
    row = api.instance(second)
    assert row is not None
    assert row["actual_status"] == "created"
    assert row["status_msg"] == (
        "Error response from daemon: failed to create task for container: OCI runtime create failed: "
        f"the GPUs of machine {row['machine_id']} are held by instance {first}"
    )
    assert row["machine_id"] == api.instance(first)["machine_id"]  # type: ignore[index]
    # Starting it again does not help.
    api.put(f"/api/v0/instances/{second}/", {"state": "stopped"})
    api.put(f"/api/v0/instances/{second}/", {"state": "running"})
    assert api.instance(second)["actual_status"] == "created"  # type: ignore[index]


def test_cancel_unavail_does_not_stop_a_double_rent(double_renting_api: Api) -> None:
    api = double_renting_api
    offer_id = api.offers(gpu_name={"eq": "RTX 4090"}, limit=1)[0]["id"]
    api.rent(offer_id)
    second = api.rent(offer_id, cancel_unavail=True)
    assert api.instance(second)["actual_status"] == "created"  # type: ignore[index]


# Busy machines: what cancel_unavail is for.


def busy_offer(api: Api, emulator: Emulator) -> dict[str, Any]:
    offer: dict[str, Any] = api.offers(gpu_name={"eq": "RTX 4090"}, limit=1)[0]
    busy = requests.post(f"{emulator.url}/_emulator/machines/{offer['machine_id']}/busy", json={}, timeout=10)
    assert busy.json() == {"success": True}
    return offer


def test_cancel_unavail_cancels_a_rent_on_a_busy_machine_with_410(api: Api, emulator: Emulator) -> None:
    offer_id = busy_offer(api, emulator)["id"]
    gone = {
        "success": False,
        "error": "no_such_ask",
        "msg": f"error 410/3907: no_such_ask Instance type {offer_id} is no longer available.",
        "ask_id": offer_id,
    }
    for body in ({"cancel_unavail": True}, {}):  # on-demand and running: cancel_unavail defaults to true
        response = api.put(f"/api/v0/asks/{offer_id}/", {"image": "x", **body})
        assert (response.status_code, response.json()) == (410, gone)
    assert api.get("/api/v1/instances/").json()["instances"] == []
    assert offer_id in emulator.backend.state.offers


def test_without_cancel_unavail_a_rent_on_a_busy_machine_waits_stopped_until_it_is_free(
    api: Api, emulator: Emulator, clock: ManualClock
) -> None:
    offer = busy_offer(api, emulator)
    waiting = api.rent(offer["id"], cancel_unavail=False)
    bid = busy_offer(api, emulator)
    interruptible = api.rent(bid["id"], price=bid["min_bid"])  # cancel_unavail defaults to false
    clock.advance(1)
    for instance_id in (waiting, interruptible):
        row = api.instance(instance_id)
        assert row is not None
        assert (row["actual_status"], row["intended_status"], row["status_msg"]) == (
            "stopped",
            "running",
            "Waiting for the machine's GPUs to become available.",
        )
    emulator.set_machine_busy(offer["machine_id"], False)
    assert status_of(api, waiting) == "loading"
    clock.advance(1)
    assert status_of(api, waiting) == "running"
    assert status_of(api, interruptible) == "stopped"  # its machine is still busy


def test_only_a_known_machine_can_be_busy(emulator: Emulator) -> None:
    response = requests.post(f"{emulator.url}/_emulator/machines/1/busy", json={}, timeout=10)
    assert response.status_code == 404


def test_without_double_rent_a_rented_offer_is_no_such_ask(api: Api) -> None:
    offer_id = api.offers(gpu_name={"eq": "RTX 4090"}, limit=1)[0]["id"]
    api.rent(offer_id)
    response = api.put(f"/api/v0/asks/{offer_id}/", {"image": "x", "cancel_unavail": False})
    assert response.status_code == 404


@pytest.fixture
def double_renting_api() -> Iterator[Api]:
    with Emulator(api_keys=["k"], double_rent=True, boot_seconds=0) as emu:
        yield Api(emu.url, "k")
