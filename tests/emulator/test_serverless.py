"""Endpoints and workergroups over HTTP: shapes, defaults, validation and not-found answers."""

from __future__ import annotations

import pytest

from tests.emulator.conftest import Api, ManualClock
from vast_pulumi.emulator import Emulator


def test_endpoint_rows_carry_the_specs_defaults_a_secret_key_and_the_owner(
    api: Api, emulator: Emulator
) -> None:
    endpoint_id = api.endpoint(endpoint_name="llama", max_workers=4)
    row = api.get(f"/api/v0/endptjobs/{endpoint_id}/").json()["result"]
    user_id = emulator.backend.authenticate("k-alpha").user_id
    assert row["endpoint_name"] == "llama"
    assert row["max_workers"] == 4
    # min_load: the OpenAPI create body's default (openapi.yaml:1107), not the CLI's 0.0 (it always
    # sends its own) nor the docs' UI default 1: the same one active worker either way.
    assert (row["min_load"], row["min_cold_load"], row["target_util"], row["cold_mult"]) == (
        10.0,
        0.0,
        0.9,
        2.5,
    )
    assert (row["cold_workers"], row["max_queue_time"], row["target_queue_time"]) == (5, 30.0, 10.0)
    assert row["inactivity_timeout"] is None
    assert row["endpoint_state"] == "active"
    assert row["user_id"] == user_id
    assert len(row["api_key"]) == 64
    assert isinstance(row["created_at"], float)
    assert {"auto_delete_in_seconds", "auto_delete_due_24h"} <= set(row)


def test_endpoint_list_and_get_without_trailing_slash(api: Api) -> None:
    endpoint_id = api.endpoint()
    listed = api.get("/api/v0/endptjobs").json()
    assert listed["success"] is True
    assert [r["id"] for r in listed["results"]] == [endpoint_id]
    assert api.get(f"/api/v0/endptjobs/{endpoint_id}").json()["result"]["id"] == endpoint_id


def test_endpoint_update_leaves_null_fields_unchanged(api: Api) -> None:
    endpoint_id = api.endpoint(max_workers=4, cold_workers=2)
    response = api.put(
        f"/api/v0/endptjobs/{endpoint_id}/",
        {"endptjob_id": endpoint_id, "max_workers": 9, "cold_workers": None, "endpoint_state": "suspended"},
    )
    assert response.json() == {"success": True}
    row = api.get(f"/api/v0/endptjobs/{endpoint_id}/").json()["result"]
    assert (row["max_workers"], row["cold_workers"], row["endpoint_state"]) == (9, 2, "suspended")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"endpoint_name": "bad name!"}, "endpoint_name"),
        ({"endpoint_name": "x" * 256}, "endpoint_name"),
        ({"target_util": 0}, "target_util"),
        ({"target_util": 1.5}, "target_util"),
        ({"max_workers": "many"}, "max_workers"),
        ({"cold_workers": 2.5}, "cold_workers"),
        ({"min_load": True}, "min_load"),
        ({"min_load": -1}, "min_load"),
        ({"endpoint_state": "paused"}, "endpoint_state"),
    ],
)
def test_endpoint_invalid_args_name_the_field(api: Api, body: dict[str, object], field: str) -> None:
    response = api.post("/api/v0/endptjobs/", body)
    assert response.status_code == 400
    assert response.json()["success"] is False
    assert response.json()["error"] == "invalid_args"
    assert field in response.json()["msg"]


def test_endpoint_not_found_is_a_400_not_found(api: Api) -> None:
    for method in ("GET", "PUT", "DELETE"):
        response = api.call(method, "/api/v0/endptjobs/999/", {})
        assert response.status_code == 400
        assert response.json()["error"] == "not_found"
        assert "not found for user" in response.json()["msg"]


def test_deleting_an_endpoint_deletes_its_workergroups_and_their_workers(
    api: Api, emulator: Emulator, clock: ManualClock
) -> None:
    endpoint_id = api.endpoint()
    api.workergroup(endpoint_id)
    api.workergroup(endpoint_id)
    workers = [r["id"] for r in api.get("/api/v1/instances/").json()["instances"]]
    assert len(workers) == 5  # the endpoint's default cold_workers, over both groups
    response = api.delete(
        f"/api/v0/endptjobs/{endpoint_id}/", {"client_id": "me", "endptjob_id": endpoint_id}
    )
    body = response.json()
    assert (body["success"], body["deleted_workers"], body["failed_workers"]) == (True, workers, [])
    assert body["msg"] == "Deleted endpoint job and 5 workers"
    assert api.get("/api/v0/workergroups/").json()["results"] == []
    assert api.get("/api/v0/endptjobs/").json()["msg"] == "No endpoints for user found"
    clock.advance(emulator.backend.destroy_seconds)  # the workers' destroys have finished
    assert api.get("/api/v1/instances/").json()["instances"] == []


def test_workergroup_search_params_are_stored_parsed_as_sent_without_defaults(api: Api) -> None:
    endpoint_id = api.endpoint()
    api.workergroup(endpoint_id, search_params="gpu_ram>=24 num_gpus=1 rented=any verified=false")
    (row,) = api.get("/api/v0/workergroups/").json()["results"]
    assert row["search_query"] == {
        "verified": {"eq": False},
        "gpu_ram": {"gte": 24000.0},
        "num_gpus": {"eq": "1"},
    }
    assert "search_params" not in row
    expected_keys = {
        "id",
        "endpoint_id",
        "endpoint_name",
        "user_id",
        "created_at",
        "api_key",
        "template_hash",
        "template_id",
        "search_query",
        "launch_args",
        "gpu_ram",
        "cold_workers",
        "max_workers",
        "test_workers",
        "min_load",
        "target_util",
        "cold_mult",
    }
    assert set(row) == expected_keys


def test_workergroup_accepts_a_query_dict(api: Api) -> None:
    endpoint_id = api.endpoint()
    api.workergroup(endpoint_id, search_params={"num_gpus": {"gte": 2}})
    (row,) = api.get("/api/v0/workergroups/").json()["results"]
    assert row["search_query"] == {"num_gpus": {"gte": 2}}


def test_workergroups_and_autojobs_are_one_collection(api: Api) -> None:
    endpoint_id = api.endpoint()
    created = api.post(
        "/api/v0/autojobs/", {"endpoint_id": endpoint_id, "search_params": "num_gpus=1"}
    ).json()
    assert created["success"] is True
    assert [r["id"] for r in api.get("/api/v0/workergroups/").json()["results"]] == [created["id"]]
    update = api.put(f"/api/v0/workergroups/{created['id']}/", {"autojob_id": created["id"], "gpu_ram": 48.0})
    assert update.json() == {"success": True}
    assert api.get("/api/v0/autojobs/").json()["results"][0]["gpu_ram"] == 48.0


def test_workergroup_ties_to_its_endpoint_by_name(api: Api) -> None:
    endpoint_id = api.endpoint(endpoint_name="by-name")
    response = api.post("/api/v0/workergroups/", {"endpoint_name": "by-name", "search_params": "num_gpus=1"})
    group_id = response.json()["id"]
    (row,) = api.get("/api/v0/workergroups/").json()["results"]
    assert (row["id"], row["endpoint_id"], row["endpoint_name"]) == (group_id, endpoint_id, "by-name")


def test_workergroup_without_a_valid_endpoint_is_refused(api: Api) -> None:
    response = api.post("/api/v0/workergroups/", {"endpoint_id": 12345, "search_params": "num_gpus=1"})
    assert response.status_code == 400
    assert response.json()["msg"] == "Please assign your workergroup to a valid endpoint identifier"


@pytest.mark.parametrize(
    ("search_params", "named"), [("gpu_colour=red", "gpu_colour"), ("num_gpus>>1", ">>")]
)
def test_workergroup_bad_search_params_are_invalid_args(api: Api, search_params: str, named: str) -> None:
    endpoint_id = api.endpoint()
    response = api.post("/api/v0/workergroups/", {"endpoint_id": endpoint_id, "search_params": search_params})
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_args"
    assert "search_params" in response.json()["msg"]
    assert named in response.json()["msg"]


def test_workergroup_update_reparses_search_params_and_ignores_nulls(api: Api) -> None:
    endpoint_id = api.endpoint()
    group_id = api.workergroup(endpoint_id, launch_args="--image x")
    body = {"search_params": "num_gpus=2", "launch_args": None, "gpu_ram": None, "endpoint_id": endpoint_id}
    assert api.put(f"/api/v0/workergroups/{group_id}/", body).json() == {"success": True}
    (row,) = api.get("/api/v0/workergroups/").json()["results"]
    assert row["search_query"]["num_gpus"] == {"eq": "2"}
    assert "gpu_name" not in row["search_query"]
    assert row["launch_args"] == "--image x"


def test_deleting_a_missing_workergroup_is_404_no_such_workergroup(api: Api) -> None:
    response = api.delete("/api/v0/workergroups/777/", {"client_id": "me", "autojob_id": 777})
    assert response.status_code == 404
    assert response.json() == {
        "success": False,
        "error": "no_such_workergroup",
        "msg": "No workergroup by that id is available.",
        "id": 777,
    }


def test_workergroup_delete_answers_like_the_api(api: Api) -> None:
    group_id = api.workergroup(api.endpoint())
    body = api.delete(f"/api/v0/workergroups/{group_id}/").json()
    assert (body["success"], body["deleted_workers"], body["failed_workers"]) == (True, [], [])
    assert api.get("/api/v0/workergroups/").json()["results"] == []


def test_workergroup_with_a_template_takes_its_filters_and_both_names(api: Api) -> None:
    template = api.post(
        "/api/v0/template/",
        {"name": "t", "image": "vllm/vllm-openai", "extra_filters": {"num_gpus": {"eq": "2"}}},
    ).json()["template"]
    endpoint_id = api.endpoint()
    api.post("/api/v0/workergroups/", {"endpoint_id": endpoint_id, "template_hash": template["hash_id"]})
    (row,) = api.get("/api/v0/workergroups/").json()["results"]
    assert (row["template_hash"], row["template_id"]) == (template["hash_id"], template["id"])
    assert row["search_query"]["num_gpus"] == {"eq": "2"}


def test_workergroup_with_an_unknown_template_is_invalid_args(api: Api) -> None:
    endpoint_id = api.endpoint()
    response = api.post("/api/v0/workergroups/", {"endpoint_id": endpoint_id, "template_hash": "nope"})
    assert response.status_code == 400
    assert "template_hash" in response.json()["msg"]


def test_listing_endpoints_on_an_account_without_any_is_400(api: Api) -> None:
    response = api.get("/api/v0/endptjobs/")
    assert (response.status_code, response.json()) == (
        400,
        {"success": False, "error": "invalid_args", "msg": "No endpoints for user found"},
    )
    api.endpoint()
    assert len(api.get("/api/v0/endptjobs/").json()["results"]) == 1


def test_without_no_endpoints_error_an_empty_account_lists_no_endpoints() -> None:
    with Emulator(api_keys=["k"], no_endpoints_error=False) as emu:
        assert Api(emu.url, "k").get("/api/v0/endptjobs/").json() == {"success": True, "results": []}
