"""Serverless workers: workergroups recruit billing instances, as Vast's autoscaler does (on by default)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import requests

from tests.emulator.conftest import KEY, Api, ManualClock
from vast_pulumi.emulator import Emulator, Runtime
from vast_pulumi.emulator.__main__ import parser, settings_from


def control(emulator: Emulator, method: str, path: str, body: object = None) -> requests.Response:
    return requests.request(method, emulator.url + "/_emulator/" + path, json=body, timeout=10)


def instances(api: Api, **params: Any) -> list[dict[str, Any]]:
    response = api.get("/api/v1/instances/", **params)
    assert response.status_code == 200, response.text
    rows: list[dict[str, Any]] = response.json()["instances"]
    return rows


def workers_of(api: Api, group_id: int) -> list[dict[str, Any]]:
    return [r for r in instances(api) if r.get("workergroup_id") == group_id]


def test_an_endpoint_keeps_its_cold_workers_recruited_with_no_load(api: Api, emulator: Emulator) -> None:
    endpoint_id = api.endpoint(cold_workers=2, max_workers=4)
    group_id = api.workergroup(endpoint_id, search_params="gpu_name=RTX_4090 num_gpus=1")
    rows = instances(api)
    assert len(rows) == 2
    account = emulator.backend.authenticate(KEY)
    for row in rows:
        assert (row["workergroup_id"], row["endpoint_id"]) == (group_id, endpoint_id)
        assert (row["gpu_name"], row["num_gpus"], row["verification"]) == ("RTX 4090", 1, "verified")
        assert row["dph_total"] > 0
        assert row["intended_status"] == "running"
        # Recruiting is a rent: the offer left the market.
        assert account.instances[row["id"]].offer["id"] not in emulator.backend.state.offers
        single = api.instance(row["id"])
        assert single is not None
        assert (single["workergroup_id"], single["endpoint_id"]) == (group_id, endpoint_id)


def test_the_workergroups_own_cold_workers_is_ignored(api: Api) -> None:
    endpoint_id = api.endpoint(cold_workers=1)
    api.workergroup(endpoint_id, cold_workers=4)
    assert len(instances(api)) == 1


def test_load_recruits_more_workers_up_to_max_workers_and_releases_the_costliest(
    api: Api, emulator: Emulator, clock: ManualClock
) -> None:
    endpoint_id = api.endpoint(cold_workers=1, max_workers=4, target_util=0.9, min_load=0, cold_mult=1)
    group_id = api.workergroup(endpoint_id)
    assert len(workers_of(api, group_id)) == 1

    answer = control(emulator, "PUT", f"endpoints/{endpoint_id}/load", {"load": 2})
    # ceil(2 / 0.9) active, and as many in all (cold_mult 1 adds no inactive capacity)
    assert answer.json() == {
        "endpoint_id": endpoint_id,
        "load": 2.0,
        "wanted_workers": 3,
        "active_workers": 3,
    }
    assert len(workers_of(api, group_id)) == 3

    assert emulator.set_endpoint_load(endpoint_id, 50)["wanted_workers"] == 4
    rows = workers_of(api, group_id)
    assert len(rows) == 4
    cheapest = min(rows, key=lambda r: (r["dph_total"], r["id"]))

    emulator.set_endpoint_load(endpoint_id, 0)
    clock.advance(emulator.backend.destroy_seconds)  # the released workers' destroys have finished
    # cold_workers keeps one, the best price-performance (every worker's perf is the same)
    assert [r["id"] for r in workers_of(api, group_id)] == [cheapest["id"]]


def test_a_bad_load_is_refused_naming_the_field(emulator: Emulator, api: Api) -> None:
    endpoint_id = api.endpoint()
    response = control(emulator, "PUT", f"endpoints/{endpoint_id}/load", {"load": -1})
    assert response.status_code == 400
    assert "load" in response.json()["msg"]
    assert control(emulator, "PUT", "endpoints/999/load", {"load": 1}).status_code == 404


def test_workers_boot_over_boot_seconds_from_when_they_are_recruited(
    api: Api, emulator: Emulator, clock: ManualClock
) -> None:
    endpoint_id = api.endpoint(cold_workers=1, max_workers=2)
    group_id = api.workergroup(endpoint_id)
    (first,) = workers_of(api, group_id)
    assert first["actual_status"] is None
    assert first["start_date"] == clock.now
    clock.advance(0.1)  # boot_seconds is 0.3: the first fifth is provisioning
    assert workers_of(api, group_id)[0]["actual_status"] == "loading"
    clock.advance(0.25)
    assert workers_of(api, group_id)[0]["actual_status"] == "running"

    clock.advance(100)
    emulator.set_endpoint_load(endpoint_id, 1.5)
    statuses = [(r["id"], r["actual_status"]) for r in workers_of(api, group_id)]
    assert statuses[0] == (first["id"], "running")
    assert statuses[1][1] is None  # the new one starts booting when the load came
    shown = api.post("/get_endpoint_workers/", {"id": endpoint_id}).json()
    assert [(w["id"], w["status"]) for w in shown] == [(first["id"], "IDLE"), (statuses[1][0], "CREATING")]


def test_new_workers_go_to_the_endpoints_group_with_the_fewest(api: Api, emulator: Emulator) -> None:
    endpoint_id = api.endpoint(cold_workers=0, min_load=0, cold_mult=1)
    one = api.workergroup(endpoint_id)
    two = api.workergroup(endpoint_id, search_params="gpu_name=RTX_3090 num_gpus=1")
    assert instances(api) == []
    emulator.set_endpoint_load(endpoint_id, 2.7)  # ceil(2.7 / 0.9) = 3 workers
    assert len(workers_of(api, one)) == 2
    assert {r["gpu_name"] for r in workers_of(api, two)} == {"RTX 3090"}
    assert len(workers_of(api, two)) == 1


def test_a_group_moved_to_another_endpoint_takes_its_workers_along(api: Api) -> None:
    first = api.endpoint(cold_workers=1)
    group_id = api.workergroup(first)
    (worker,) = workers_of(api, group_id)
    second = api.endpoint(endpoint_name="second", cold_workers=1)
    assert api.put(f"/api/v0/workergroups/{group_id}/", {"endpoint_id": second}).json() == {"success": True}
    assert [(r["id"], r["endpoint_id"]) for r in workers_of(api, group_id)] == [(worker["id"], second)]


def test_a_template_group_recruits_with_the_templates_filters_and_image(api: Api) -> None:
    template = api.post(
        "/api/v0/template/",
        {"name": "t", "image": "vllm/vllm-openai", "tag": "v1", "extra_filters": {"num_gpus": {"eq": "2"}}},
    ).json()["template"]
    endpoint_id = api.endpoint(cold_workers=1)
    response = api.post(
        "/api/v0/workergroups/", {"endpoint_id": endpoint_id, "template_hash": template["hash_id"]}
    )
    (worker,) = workers_of(api, response.json()["id"])
    assert worker["num_gpus"] == 2
    assert (worker["image_uuid"], worker["template_hash_id"]) == ("vllm/vllm-openai:v1", template["hash_id"])


def test_launch_args_set_the_workers_image_and_disk(api: Api) -> None:
    endpoint_id = api.endpoint(cold_workers=1)
    group_id = api.workergroup(endpoint_id, launch_args="--image my/worker:1 --disk 40")
    (worker,) = workers_of(api, group_id)
    assert (worker["image_uuid"], worker["disk_space"]) == ("my/worker:1", 40.0)


def test_a_group_whose_query_matches_nothing_recruits_nothing(api: Api) -> None:
    endpoint_id = api.endpoint(cold_workers=2)
    api.workergroup(endpoint_id, search_params="gpu_name=RTX_4090 num_gpus=3")
    assert instances(api) == []


def test_a_destroyed_worker_is_replaced(api: Api, emulator: Emulator, clock: ManualClock) -> None:
    endpoint_id = api.endpoint(cold_workers=1)
    group_id = api.workergroup(endpoint_id)
    (old,) = workers_of(api, group_id)
    assert api.delete(f"/api/v0/instances/{old['id']}/").json() == {"success": True}
    clock.advance(emulator.backend.destroy_seconds)
    (new,) = workers_of(api, group_id)
    assert new["id"] != old["id"]


def test_only_an_active_endpoint_recruits(api: Api) -> None:
    endpoint_id = api.endpoint(cold_workers=2, endpoint_state="suspended")
    api.workergroup(endpoint_id)
    assert instances(api) == []


def test_workers_are_listed_by_group_and_endpoint_in_v1_filters(api: Api) -> None:
    endpoint_id = api.endpoint(cold_workers=1)
    group_id = api.workergroup(endpoint_id)
    own = api.rent()
    rows = instances(api, select_filters={"workergroup_id": {"eq": group_id}})
    assert [r["workergroup_id"] for r in rows] == [group_id]
    assert own not in [r["id"] for r in rows]
    assert "workergroup_id" not in (api.instance(own) or {})  # an ordinary rent is no worker


def test_another_account_sees_none_of_the_workers(api: Api, other_api: Api) -> None:
    api.workergroup(api.endpoint(cold_workers=2))
    assert instances(other_api) == []
    assert other_api.post("/get_endpoint_workers/", {"id": 4001}).json() == {
        "error_msg": "authenticate_endpoint_apikey_by_id: invalid api_key or endpoint 4001 not found"
    }


def test_deleting_a_workergroup_leaves_its_workers_listed_and_billing(api: Api, clock: ManualClock) -> None:
    endpoint_id = api.endpoint(cold_workers=2, min_load=200, cold_mult=1)  # two active workers
    group_id = api.workergroup(endpoint_id)
    clock.advance(1)
    ids = sorted(r["id"] for r in workers_of(api, group_id))
    body = api.delete(f"/api/v0/workergroups/{group_id}/", {"client_id": "me", "autojob_id": group_id}).json()
    assert body == {
        "success": True,
        "deleted_workers": [],
        "failed_workers": [],
        "msg": f"Deleted workergroup {group_id} and 0 workers",
    }
    rows = {r["id"]: r for r in instances(api)}
    assert sorted(rows) == ids
    for worker_id in ids:
        row = rows[worker_id]
        assert (row["workergroup_id"], row["endpoint_id"]) == (None, None)  # detached
        assert (row["actual_status"], row["intended_status"]) == ("running", "running")
        assert row["dph_total"] > 0
        assert api.instance(worker_id) == row
    # The endpoint's delete then leaves them too: they are no longer its workers.
    deleted = api.delete(f"/api/v0/endptjobs/{endpoint_id}/").json()
    assert (deleted["deleted_workers"], deleted["failed_workers"]) == ([], [])
    assert sorted(r["id"] for r in instances(api)) == ids


def test_an_endpoint_delete_answers_deleted_and_failed_workers(
    api: Api, emulator: Emulator, clock: ManualClock
) -> None:
    endpoint_id = api.endpoint(cold_workers=2)
    group_id = api.workergroup(endpoint_id)
    reachable, unreachable = sorted(r["id"] for r in workers_of(api, group_id))
    control(emulator, "POST", f"instances/{unreachable}/status", {"actual_status": "offline"})
    body = api.delete(
        f"/api/v0/endptjobs/{endpoint_id}/", {"client_id": "me", "endptjob_id": endpoint_id}
    ).json()
    assert body == {
        "success": True,
        "deleted_workers": [reachable],
        "failed_workers": [unreachable],
        "msg": "Deleted endpoint job and 1 workers",
    }
    clock.advance(emulator.backend.destroy_seconds)
    (left,) = instances(api)
    assert (left["id"], left["workergroup_id"], left["endpoint_id"]) == (unreachable, None, None)
    assert api.instance(reachable) is None


def test_get_workergroup_workers_lists_the_groups_workers(api: Api) -> None:
    endpoint_id = api.endpoint(cold_workers=1)
    group_id = api.workergroup(endpoint_id)
    (row,) = workers_of(api, group_id)
    body = api.post("/get_workergroup_workers/", {"id": group_id}).json()
    assert [(w["id"], w["status"]) for w in body["workers"]] == [(row["id"], "CREATING")]
    assert set(body["workers"][0]) == {"id", "status", "url", "created_at"}
    assert api.post("/get_workergroup_workers/", {"id": 1}).json() == (
        "authenticate_workergroup_apikey: invalid api_key or workergroup 1 not found"
    )
    assert api.post("/get_workergroup_workers/", {}).status_code == 400


def test_workers_are_deterministic_for_a_seed() -> None:
    def recruit() -> list[tuple[int, Any]]:
        with Emulator(api_keys=[KEY], seed=9) as emu:
            api = Api(emu.url, KEY)
            api.workergroup(api.endpoint(cold_workers=3))
            return [(r["id"], r["machine_id"]) for r in instances(api)]

    assert recruit() == recruit()


def test_switched_off_no_worker_is_recruited_until_switched_on() -> None:
    with Emulator(api_keys=[KEY], workers=False) as emu:
        api = Api(emu.url, KEY)
        endpoint_id = api.endpoint(cold_workers=2)
        api.workergroup(endpoint_id)
        assert instances(api) == []
        assert control(emu, "GET", "workers").json() == {"enabled": False}
        assert (
            api.delete(f"/api/v0/workergroups/{api.workergroup(endpoint_id)}/").json()["deleted_workers"]
            == []
        )

        assert control(emu, "PUT", "workers", {"enabled": True}).json() == {"enabled": True}
        assert len(instances(api)) == 2
        emu.set_workers(False)
        emu.set_endpoint_load(endpoint_id, 10)
        assert len(instances(api)) == 2  # off: no more recruited, the recruited stay


def test_the_switch_is_on_by_default_everywhere(vast_emulator: Emulator) -> None:
    assert Emulator().backend.workers is True
    assert vast_emulator.backend.workers is True
    assert settings_from(parser().parse_args([])).workers is True
    assert Runtime(settings_from(parser().parse_args(["--no-workers"]))).backend.workers is False


@pytest.mark.parametrize("enabled", ["yes", None])
def test_a_bad_switch_value_is_refused(emulator: Emulator, enabled: object) -> None:
    response = control(emulator, "PUT", "workers", {"enabled": enabled})
    assert response.status_code == 400
    assert "enabled" in response.json()["msg"]


def test_workers_survive_a_restart_with_their_ties(tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    with Emulator(api_keys=[KEY], state=str(state)) as emu:
        api = Api(emu.url, KEY)
        endpoint_id = api.endpoint(cold_workers=1)
        group_id = api.workergroup(endpoint_id)
        (before,) = instances(api)
    with Emulator(api_keys=[KEY], state=str(state)) as emu:
        (after,) = instances(Api(emu.url, KEY))
        assert (after["id"], after["workergroup_id"], after["endpoint_id"]) == (
            before["id"],
            group_id,
            endpoint_id,
        )


def test_a_worker_gets_the_environment_of_its_groups_launch_args(api: Api) -> None:
    endpoint_id = api.endpoint(cold_workers=1, max_workers=1)
    api.workergroup(
        endpoint_id, launch_args='--image x --env "-e TOKEN=a=b -e MODE=fast -p 8000:8000" --disk 20'
    )
    (worker,) = instances(api)
    assert dict(worker["extra_env"]) == {"TOKEN": "a=b", "MODE": "fast", "-p 8000:8000": "1"}
    assert (worker["image_uuid"], worker["disk_space"]) == ("x", 20)
