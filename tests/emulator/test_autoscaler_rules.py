"""The serverless autoscaler's rules as Vast's docs give them (audit 2026-12-07 S1, S4-S7, S9-S12),
one test per rule, with exact worker states and counts, on the emulator's clock.

Every worker serves ``WORKER_PERF`` (100) load units a second; boot takes 0.3 s (the fixture's).
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.emulator.conftest import Api, ManualClock
from vast_pulumi.emulator import Emulator
from vast_pulumi.emulator.autoscaler import WORKER_PERF

BOOT = 0.3
RTX_4090 = "gpu_name=RTX_4090 num_gpus=1"


def states(api: Api, endpoint_id: int) -> list[str]:
    """The endpoint's worker states as ``/get_endpoint_workers/`` lists them, oldest first."""
    response = api.post("/get_endpoint_workers/", {"id": endpoint_id})
    assert response.status_code == 200, response.text
    return [w["status"] for w in response.json()]


def rows(api: Api, endpoint_id: int) -> list[dict[str, Any]]:
    response = api.get("/api/v1/instances/")
    return [r for r in response.json()["instances"] if r.get("endpoint_id") == endpoint_id]


def booted(clock: ManualClock) -> None:
    clock.advance(BOOT + 0.01)  # (float sums: just past the boot)


def test_min_load_keeps_active_capacity_with_no_cold_workers(api: Api, clock: ManualClock) -> None:
    """S1: the audit's probe (cold_workers 0, min_load 5) kept 0 workers; the docs: min_load > 0
    "guarantees at least one active worker"; capacity ceil(min_load / perf) workers."""
    small = api.endpoint(cold_workers=0, min_load=5, cold_mult=1)
    api.workergroup(small, search_params=RTX_4090)
    big = api.endpoint(endpoint_name="big", cold_workers=0, min_load=2.5 * WORKER_PERF, cold_mult=1)
    api.workergroup(big, search_params=RTX_4090)
    assert states(api, small) == ["CREATING"]
    booted(clock)
    assert states(api, small) == ["IDLE"]
    assert states(api, big) == ["IDLE", "IDLE", "IDLE"]
    clock.advance(3600)  # no load, ever: the floor stays
    assert states(api, small) == ["IDLE"]


def test_cold_workers_load_then_stop_and_bill_storage_only(api: Api, clock: ManualClock) -> None:
    """S4: "cold/stopped" workers: they load (GPU billed while loading), then are inactive."""
    endpoint_id = api.endpoint(cold_workers=3, min_load=0, cold_mult=0)
    api.workergroup(endpoint_id)
    assert states(api, endpoint_id) == ["CREATING"] * 3
    clock.advance(BOOT * 0.5)
    assert states(api, endpoint_id) == ["LOADING"] * 3
    assert all(r["instance"]["gpuCostPerHour"] > 0 for r in rows(api, endpoint_id))  # loading bills GPU
    clock.advance(BOOT * 0.3)
    assert states(api, endpoint_id) == ["MODEL_LOADING"] * 3
    booted(clock)
    assert states(api, endpoint_id) == ["STOPPED"] * 3
    for row in rows(api, endpoint_id):
        assert (row["actual_status"], row["intended_status"]) == ("stopped", "stopped")
        assert row["instance"]["gpuCostPerHour"] == 0
        assert row["instance"]["totalHour"] == row["storage_total_cost"] > 0


def test_cold_mult_and_min_cold_load_recruit_inactive_capacity(api: Api, clock: ManualClock) -> None:
    """S4: total capacity = max(active capacity x cold_mult, min_cold_load); the rest is inactive."""
    by_mult = api.endpoint(cold_workers=0, min_load=WORKER_PERF, cold_mult=3)
    api.workergroup(by_mult)
    by_load = api.endpoint(
        endpoint_name="by-load",
        cold_workers=0,
        min_load=WORKER_PERF,
        cold_mult=1,
        min_cold_load=4 * WORKER_PERF,
    )
    api.workergroup(by_load)
    booted(clock)
    assert sorted(states(api, by_mult)) == ["IDLE", "STOPPED", "STOPPED"]
    assert sorted(states(api, by_load)) == ["IDLE", "STOPPED", "STOPPED", "STOPPED"]


def test_max_workers_caps_the_endpoint_and_each_workergroup(api: Api, emulator: Emulator) -> None:
    """S7: the endpoint's max_workers caps active plus inactive (docs: "hard upper limit"); a group's
    own max_workers caps that group (taken as enforced: the SDK keeps it as a workergroup input)."""
    capped = api.endpoint(cold_workers=0, min_load=0, max_workers=2)
    api.workergroup(capped)
    assert emulator.set_endpoint_load(capped, 50) == {
        "endpoint_id": capped,
        "load": 50.0,
        "wanted_workers": 2,
        "active_workers": 2,
    }
    assert len(states(api, capped)) == 2

    shared = api.endpoint(endpoint_name="shared", cold_workers=0, min_load=4 * WORKER_PERF, cold_mult=1)
    small = api.workergroup(shared, max_workers=1)
    large = api.workergroup(shared, search_params="gpu_name=RTX_3090 num_gpus=1")
    by_group = [r.get("workergroup_id") for r in rows(api, shared)]
    assert (by_group.count(small), by_group.count(large)) == (1, 3)


def test_a_stopped_endpoint_stops_every_worker_and_scales_no_more(
    api: Api, emulator: Emulator, clock: ManualClock
) -> None:
    """S5: stopped: "All workers are changed to and are billed in the inactive state"."""
    endpoint_id = api.endpoint(cold_workers=0, min_load=2 * WORKER_PERF, cold_mult=1)
    api.workergroup(endpoint_id)
    booted(clock)
    assert states(api, endpoint_id) == ["IDLE", "IDLE"]
    assert api.put(f"/api/v0/endptjobs/{endpoint_id}/", {"endpoint_state": "stopped"}).status_code == 200
    assert states(api, endpoint_id) == ["STOPPED", "STOPPED"]
    emulator.set_endpoint_load(endpoint_id, 10)
    clock.advance(60)
    assert states(api, endpoint_id) == ["STOPPED", "STOPPED"]
    assert all(r["instance"]["gpuCostPerHour"] == 0 for r in rows(api, endpoint_id))


def test_a_suspended_endpoint_is_frozen_and_its_loading_workers_finish_loading(
    api: Api, emulator: Emulator, clock: ManualClock
) -> None:
    """S5: suspended: the engine manages nothing; "workers ... being created or are loading, will
    complete to a ready state" (so cold workers caught loading stay ready, billing GPU)."""
    endpoint_id = api.endpoint(cold_workers=2, min_load=0, cold_mult=0)
    api.workergroup(endpoint_id)
    assert states(api, endpoint_id) == ["CREATING", "CREATING"]
    assert api.put(f"/api/v0/endptjobs/{endpoint_id}/", {"endpoint_state": "suspended"}).status_code == 200
    booted(clock)
    assert states(api, endpoint_id) == ["IDLE", "IDLE"]
    emulator.set_endpoint_load(endpoint_id, 10)  # no recruiting either
    assert states(api, endpoint_id) == ["IDLE", "IDLE"]
    assert api.put(f"/api/v0/endptjobs/{endpoint_id}/", {"endpoint_state": "active"}).status_code == 200
    assert len(states(api, endpoint_id)) == 12  # active again: ceil(10 / 0.9) workers


def test_inactivity_timeout_gates_scaling_to_zero(api: Api, emulator: Emulator, clock: ManualClock) -> None:
    """S6: > 0: one active worker stays until the timeout has passed since the last load."""
    endpoint_id = api.endpoint(cold_workers=0, min_load=0, cold_mult=1, inactivity_timeout=60)
    api.workergroup(endpoint_id)
    assert states(api, endpoint_id) == []  # never any load: nothing to gate
    emulator.set_endpoint_load(endpoint_id, 0.9)  # 90 / 0.9 = 100: one worker
    booted(clock)
    assert states(api, endpoint_id) == ["IDLE"]
    emulator.set_endpoint_load(endpoint_id, 0)
    clock.advance(59)
    assert states(api, endpoint_id) == ["IDLE"]
    clock.advance(1)
    assert states(api, endpoint_id) == ["DESTROYING"]
    clock.advance(emulator.backend.destroy_seconds)
    assert states(api, endpoint_id) == []


@pytest.mark.parametrize(("timeout", "expected"), [(-1, ["IDLE"]), (0, []), (None, [])])
def test_inactivity_timeout_negative_never_scales_to_zero_and_zero_or_unset_do_not_gate(
    api: Api, clock: ManualClock, timeout: int | None, expected: list[str]
) -> None:
    fields = {"inactivity_timeout": timeout} if timeout is not None else {}
    endpoint_id = api.endpoint(cold_workers=0, min_load=0, cold_mult=1, **fields)
    api.workergroup(endpoint_id)
    booted(clock)
    assert states(api, endpoint_id) == expected


def test_surplus_is_released_worst_price_performance_first(
    api: Api, emulator: Emulator, clock: ManualClock
) -> None:
    """S10: "the engine will remove the GPU with the worst price-performance first" (every worker's
    perf is the same here, so the costliest goes first, whatever its age)."""
    endpoint_id = api.endpoint(cold_workers=0, min_load=0, cold_mult=1, max_workers=4)
    api.workergroup(endpoint_id, search_params="num_gpus=1")
    emulator.set_endpoint_load(endpoint_id, 3.6)  # 4 workers
    booted(clock)
    before = sorted(rows(api, endpoint_id), key=lambda r: (r["dph_total"], r["id"]))
    assert len(before) == 4 and len({r["dph_total"] for r in before}) > 1
    emulator.set_endpoint_load(endpoint_id, 1.8)  # 2 workers
    listed = {w["id"]: w["status"] for w in api.post("/get_endpoint_workers/", {"id": endpoint_id}).json()}
    assert [listed[r["id"]] for r in before] == ["IDLE", "IDLE", "DESTROYING", "DESTROYING"]


def test_worker_states_follow_the_docs(api: Api, emulator: Emulator, clock: ManualClock) -> None:
    """S11: CREATING, LOADING, MODEL_LOADING, IDLE, STOPPED, STARTING, DESTROYING, UNAVAIL, ERROR."""
    endpoint_id = api.endpoint(cold_workers=4, min_load=0, cold_mult=0)
    api.workergroup(endpoint_id)
    booted(clock)
    one, two, three, four = (w["id"] for w in api.post("/get_endpoint_workers/", {"id": endpoint_id}).json())
    assert states(api, endpoint_id) == ["STOPPED"] * 4
    emulator.set_endpoint_load(endpoint_id, 0.9)  # one active: the best price-performance starts
    assert sorted(states(api, endpoint_id)) == ["STARTING", "STOPPED", "STOPPED", "STOPPED"]
    control = Api(emulator.url, None)
    control.post(f"/_emulator/instances/{three}/status/", {"actual_status": "offline"})
    control.post(f"/_emulator/instances/{four}/status/", {"actual_status": "exited"})
    assert api.delete(f"/api/v0/instances/{two}/").status_code == 200
    listed = {w["id"]: w["status"] for w in api.post("/get_endpoint_workers/", {"id": endpoint_id}).json()}
    assert (listed[two], listed[three], listed[four]) == ("DESTROYING", "UNAVAIL", "ERROR")
    assert one in listed


def test_a_bad_key_on_the_worker_routes_is_answered_in_band(
    api: Api, other_api: Api, emulator: Emulator, clock: ManualClock
) -> None:
    """S9: 200 with ``error_msg`` (the SDK reads it as "no workers yet"), or the spec's plain string;
    the endpoint's own key is accepted as well as the account's."""
    endpoint_id = api.endpoint(cold_workers=1)
    group_id = api.workergroup(endpoint_id)
    stranger = Api(emulator.url, "not-a-key")
    for caller in (stranger, other_api):
        answer = caller.post("/get_endpoint_workers/", {"id": endpoint_id})
        assert (answer.status_code, answer.json()) == (
            200,
            {
                "error_msg": "authenticate_endpoint_apikey_by_id: invalid api_key or endpoint "
                f"{endpoint_id} not found"
            },
        )
        answer = caller.post("/get_workergroup_workers/", {"id": group_id})
        assert (answer.status_code, answer.json()) == (
            200,
            f"authenticate_workergroup_apikey: invalid api_key or workergroup {group_id} not found",
        )
    endpoint_key = api.get(f"/api/v0/endptjobs/{endpoint_id}/").json()["result"]["api_key"]
    by_endpoint_key = Api(emulator.url, None).post(
        "/get_endpoint_workers/", {"id": endpoint_id, "api_key": endpoint_key}
    )
    assert [w["status"] for w in by_endpoint_key.json()] == ["CREATING"]
    assert emulator.request_log()[-1]["status"] == 200


def test_a_workers_url_is_its_first_port_mapping_that_is_not_ssh(api: Api, clock: ManualClock) -> None:
    """S12: the worker's HTTP address, not the 22/tcp SSH port."""
    endpoint_id = api.endpoint(cold_workers=1, min_load=1, cold_mult=1, max_workers=1)
    api.workergroup(endpoint_id, launch_args='--env "-p 8000:8000"')
    booted(clock)
    (worker,) = api.post("/get_endpoint_workers/", {"id": endpoint_id}).json()
    (row,) = rows(api, endpoint_id)
    assert worker["status"] == "IDLE"
    assert worker["url"] == f"http://{row['public_ipaddr']}:{row['ports']['8000/tcp'][0]['HostPort']}"
    assert row["ports"]["22/tcp"][0]["HostPort"] not in worker["url"]
