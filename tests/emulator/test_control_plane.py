"""The control plane (``/_emulator/``): request log, reset, inventory, out-of-band changes."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import requests

from tests.emulator.conftest import KEY, OTHER_KEY, Api, ManualClock
from vast_pulumi.emulator import Emulator, Runtime, Settings
from vast_pulumi.emulator.app import build_app


def control(emulator: Emulator, method: str, path: str, body: object = None) -> requests.Response:
    return requests.request(method, emulator.url + "/_emulator/" + path, json=body, timeout=10)


def test_request_log_entries_name_the_account_never_the_key(api: Api, emulator: Emulator) -> None:
    api.endpoint()
    Api(emulator.url, None).get("/api/v0/endptjobs/", api_key=OTHER_KEY)
    entries = control(emulator, "GET", "requests").json()["requests"]
    assert [e["seq"] for e in entries] == [1, 2]
    first, second = entries
    assert (first["account"], first["method"], first["path"], first["route"], first["status"]) == (
        "account-1",
        "POST",
        "/api/v0/endptjobs/",
        "/api/v0/endptjobs/",
        200,
    )
    assert first["fault"] is None
    assert first["duration_ms"] >= 0
    assert second["account"] == "account-2"
    assert second["path"] == "/api/v0/endptjobs/?api_key=REDACTED"
    assert KEY not in str(entries) and OTHER_KEY not in str(entries)
    assert control(emulator, "GET", "requests?since=1").json()["requests"] == [second]
    assert emulator.request_log() == entries


def test_route_templates_are_logged_for_parameterised_paths(api: Api, emulator: Emulator) -> None:
    instance_id = api.rent()
    api.get(f"/api/v0/instances/{instance_id}")
    assert emulator.request_log()[-1]["route"] == "/api/v0/instances/{id}/"
    assert emulator.request_log()[-1]["path"] == f"/api/v0/instances/{instance_id}"


def test_reset_clears_state_and_log(api: Api, emulator: Emulator) -> None:
    api.endpoint()
    offer_id = api.offers(limit=1)[0]["id"]
    api.rent(offer_id)
    assert control(emulator, "POST", "reset").json() == {"success": True}
    assert emulator.request_log() == []
    assert api.get("/api/v0/endptjobs/").json()["msg"] == "No endpoints for user found"
    assert offer_id in emulator.backend.state.offers  # the market is back to its seeded start
    assert api.get("/api/v0/workergroups/").status_code == 200  # keys still work


def test_inventory_lists_live_resources_per_account(
    api: Api, other_api: Api, emulator: Emulator, clock: ManualClock
) -> None:
    endpoint_id = api.endpoint(cold_workers=1)
    group_id = api.workergroup(endpoint_id)
    kept, gone = api.rent(), api.rent()
    api.delete(f"/api/v0/instances/{gone}/")
    clock.advance(emulator.backend.destroy_seconds)  # the destroy has finished
    other_api.endpoint()
    accounts = control(emulator, "GET", "inventory").json()["accounts"]
    assert [a["account"] for a in accounts] == ["account-1", "account-2"]
    mine = accounts[0]
    assert [e["id"] for e in mine["endpoints"]] == [endpoint_id]
    assert [g["id"] for g in mine["workergroups"]] == [group_id]
    (worker,) = [i["id"] for i in mine["instances"] if i.get("workergroup_id") == group_id]
    assert sorted(i["id"] for i in mine["instances"]) == sorted([worker, kept])
    assert len(accounts[1]["endpoints"]) == 1
    assert KEY not in str(accounts)


def test_host_destroys_an_instance(api: Api, emulator: Emulator) -> None:
    instance_id = api.rent()
    assert control(emulator, "POST", f"instances/{instance_id}/destroy").json() == {"success": True}
    assert api.instance(instance_id) is None
    assert control(emulator, "POST", f"instances/{instance_id}/destroy").status_code == 404


def test_host_reports_a_status_until_the_user_acts(api: Api, emulator: Emulator) -> None:
    instance_id = api.rent()
    body = {"actual_status": "exited", "status_msg": "Error: OCI runtime create failed"}
    assert control(emulator, "POST", f"instances/{instance_id}/status", body).json()["success"] is True
    row = api.instance(instance_id)
    assert row is not None
    assert (row["actual_status"], row["status_msg"]) == ("exited", "Error: OCI runtime create failed")
    api.put(f"/api/v0/instances/{instance_id}/", {"state": "stopped"})
    assert api.instance(instance_id)["actual_status"] == "stopped"  # type: ignore[index]


@pytest.mark.parametrize("kind", ["endpoints", "workergroups", "instances"])
def test_patch_drifts_a_resource(api: Api, emulator: Emulator, kind: str) -> None:
    endpoint_id = api.endpoint()
    ids = {"endpoints": endpoint_id, "workergroups": api.workergroup(endpoint_id), "instances": api.rent()}
    changes = {
        "endpoints": {"max_workers": 99},
        "workergroups": {"gpu_ram": 99.0},
        "instances": {"label": "drifted"},
    }
    response = control(emulator, "PATCH", f"{kind}/{ids[kind]}", changes[kind])
    assert response.json()["success"] is True
    if kind == "endpoints":
        assert api.get(f"/api/v0/endptjobs/{endpoint_id}/").json()["result"]["max_workers"] == 99
    elif kind == "workergroups":
        assert api.get("/api/v0/workergroups/").json()["results"][0]["gpu_ram"] == 99.0
    else:
        assert api.instance(ids["instances"])["label"] == "drifted"  # type: ignore[index]


def test_patch_can_show_any_field_and_refuses_unknown_kinds(api: Api, emulator: Emulator) -> None:
    instance_id = api.rent()
    control(emulator, "PATCH", f"instances/{instance_id}", {"ssh_host": "ssh99.vast.ai", "gpu_util": 0.5})
    row = api.instance(instance_id)
    assert row is not None
    assert (row["ssh_host"], row["gpu_util"]) == ("ssh99.vast.ai", 0.5)
    assert control(emulator, "PATCH", "volumes/1", {}).status_code == 404
    assert control(emulator, "PATCH", "instances/1", {}).status_code == 404


def test_control_plane_needs_no_key_and_is_not_logged(emulator: Emulator) -> None:
    assert control(emulator, "GET", "inventory").status_code == 200
    assert control(emulator, "GET", "faults").status_code == 200
    assert emulator.request_log() == []


def test_unknown_routes_answer_json_404_and_wrong_methods_405(api: Api) -> None:
    missing = api.get("/api/v0/no/such/route/")
    assert missing.status_code == 404
    assert missing.json()["success"] is False
    wrong = api.call("GET", "/api/v0/workergroups/5/")  # the API has no GET for a single workergroup
    assert wrong.status_code == 405
    assert wrong.json()["error"] == "method_not_allowed"


def test_control_plane_refuses_clients_off_the_loopback() -> None:
    app = build_app(Runtime(Settings(api_keys=["k"])))
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    for client, status in [(("203.0.113.9", 5000), 403), (("127.0.0.1", 5000), 200)]:
        sent.clear()
        scope = {
            "type": "http",
            "method": "GET",
            "path": "/_emulator/inventory/",
            "raw_path": b"/_emulator/inventory/",
            "query_string": b"",
            "headers": [],
            "client": client,
            "server": ("127.0.0.1", 80),
            "scheme": "http",
            "http_version": "1.1",
            "root_path": "",
        }
        asyncio.run(app(scope, receive, send))  # type: ignore[arg-type]
        assert sent[0]["status"] == status
