"""The serverless route API (``POST /route/``, audit 2026-12-07 §4) and the routed worker's echo:
routed cost is the load the autoscaler scales on."""

from __future__ import annotations

import asyncio
import ssl
from typing import Any

import requests
from vastai.serverless.client.client import CoroutineServerless

from tests.emulator.conftest import KEY, Api, ManualClock
from vast_pulumi.emulator import Emulator
from vast_pulumi.emulator.autoscaler import LOAD_WINDOW, WORKER_PERF

BOOT = 0.31  # just past the fixture's 0.3 s boot
HTTP = '--env "-p 8000:8000"'


def route(emulator: Emulator, key: str | None, **body: Any) -> requests.Response:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return requests.post(emulator.url + "/route/", json=body, headers=headers, timeout=10)


def endpoint_key(api: Api, endpoint_id: int) -> str:
    key: str = api.get(f"/api/v0/endptjobs/{endpoint_id}/").json()["result"]["api_key"]
    return key


def states(api: Api, endpoint_id: int) -> list[tuple[int, str]]:
    return [(w["id"], w["status"]) for w in api.post("/get_endpoint_workers/", {"id": endpoint_id}).json()]


def test_route_errors_are_the_specs(api: Api, emulator: Emulator) -> None:
    endpoint_id = api.endpoint(endpoint_name="llm", cold_workers=0, min_load=0)
    key = endpoint_key(api, endpoint_id)
    failed, bad = (
        {"error": "Authentication failed"},
        {"error": "Invalid endpoint or missing required parameters"},
    )
    answers = [
        route(emulator, None, endpoint="llm", cost=100),  # no key
        route(emulator, KEY, endpoint="llm", cost=100),  # the account's key is not the endpoint's
        route(emulator, "wrong", endpoint="llm", cost=100, api_key=key),  # the Bearer key is checked
        route(emulator, key, endpoint="nope", cost=100),
        route(emulator, key, endpoint="llm"),  # cost is required
        route(emulator, key, endpoint="llm", cost=-1),
        route(emulator, key, cost=100),
    ]
    assert [(a.status_code, a.json()) for a in answers] == [(401, failed)] * 3 + [(400, bad)] * 4
    assert api.get(f"/api/v0/endptjobs/{endpoint_id}/").status_code == 200
    assert states(api, endpoint_id) == []  # no accepted request: no load, nothing recruited


def test_a_routed_request_waits_then_gets_a_signed_worker_that_echoes_it(
    api: Api, emulator: Emulator, clock: ManualClock
) -> None:
    endpoint_id = api.endpoint(endpoint_name="llm", cold_workers=0, min_load=0, cold_mult=1)
    api.workergroup(endpoint_id, launch_args=HTTP)
    key = endpoint_key(api, endpoint_id)

    waiting = route(emulator, key, endpoint="llm", cost=100, api_key=key).json()
    assert set(waiting) == {"endpoint", "status", "request_idx", "__request_id"}
    assert (waiting["endpoint"], waiting["status"], waiting["request_idx"]) == ("llm", "1 CREATING", 1)
    (worker,) = states(api, endpoint_id)  # the cost is load: one worker recruited for it

    clock.advance(BOOT)
    grant = route(emulator, key, endpoint="llm", cost=100, request_idx=1).json()  # the SDK's poll
    assert set(grant) == {"endpoint", "url", "cost", "reqnum", "signature", "request_idx", "__request_id"}
    assert (grant["endpoint"], grant["cost"], grant["reqnum"]) == ("llm", 100.0, 1)
    assert grant["url"] == f"{emulator.url}/_emulator/worker/{worker[0]}"
    assert emulator.backend.state.accounts["account-1"].endpoints[endpoint_id].routed == [
        [clock.now - BOOT, 100.0]
    ]

    echoed = requests.post(
        grant["url"] + "/v1/generate", json={"auth_data": grant, "payload": {"x": 1}}, timeout=10
    )
    assert echoed.status_code == 200
    assert echoed.json() == {
        "worker_id": worker[0],
        "reqnum": 1,
        "route": "/v1/generate",
        "payload": {"x": 1},
    }
    forged = {**grant, "cost": 1.0}
    assert requests.post(grant["url"], json={"auth_data": forged}, timeout=10).status_code == 401
    assert requests.post(grant["url"], json={"payload": {}}, timeout=10).status_code == 401


def test_routed_load_scales_up_to_max_workers_and_after_inactivity_timeout_down_to_the_floor(
    api: Api, emulator: Emulator, clock: ManualClock
) -> None:
    """Issue 23's acceptance: the worker states at each step."""
    endpoint_id = api.endpoint(
        endpoint_name="llm", cold_workers=2, min_load=0, cold_mult=1, max_workers=4, inactivity_timeout=60
    )
    api.workergroup(endpoint_id, launch_args=HTTP)
    key = endpoint_key(api, endpoint_id)
    clock.advance(BOOT)
    steps = {"floor": sorted(s for _, s in states(api, endpoint_id))}

    # 40 requests of cost 100 in the window: 400 units/s / 0.9 = 5 workers wanted, 4 allowed
    for _ in range(40):
        route(emulator, key, endpoint="llm", cost=WORKER_PERF)
    steps["routed"] = sorted(s for _, s in states(api, endpoint_id))
    clock.advance(BOOT)
    steps["loaded"] = sorted(s for _, s in states(api, endpoint_id))
    served = {route(emulator, key, endpoint="llm", cost=0).json()["url"] for _ in range(4)}

    clock.advance(LOAD_WINDOW)  # no new requests: load 0, but within inactivity_timeout
    steps["idle"] = sorted(s for _, s in states(api, endpoint_id))
    clock.advance(emulator.backend.destroy_seconds)
    steps["released"] = sorted(s for _, s in states(api, endpoint_id))
    clock.advance(60)  # the timeout since the last request has passed
    steps["timed_out"] = sorted(s for _, s in states(api, endpoint_id))

    assert steps == {
        "floor": ["STOPPED", "STOPPED"],  # cold_workers: loaded, then inactive
        "routed": ["CREATING", "CREATING", "STARTING", "STARTING"],
        "loaded": ["IDLE", "IDLE", "IDLE", "IDLE"],
        "idle": ["DESTROYING", "DESTROYING", "IDLE", "STOPPED"],  # one active kept by the timeout
        "released": ["IDLE", "STOPPED"],
        "timed_out": ["STOPPED", "STOPPED"],  # min_load 0, cold_workers 2: two inactive
    }
    assert len(served) == 4  # round robin over the four ready workers


def test_a_poll_of_a_known_request_adds_no_load(api: Api, emulator: Emulator) -> None:
    endpoint_id = api.endpoint(endpoint_name="llm", cold_workers=0, min_load=0, cold_mult=1, max_workers=10)
    api.workergroup(endpoint_id)
    key = endpoint_key(api, endpoint_id)
    first = route(emulator, key, endpoint="llm", cost=450).json()["request_idx"]
    for _ in range(5):
        assert (
            route(emulator, key, endpoint="llm", cost=450, request_idx=first).json()["request_idx"] == first
        )
    assert len(states(api, endpoint_id)) == 1  # 450 / 10 s = 45 units/s: one worker, polls or not


class TickingClock(ManualClock):
    """The emulator's clock moving a little at each read: the SDK's polls make time pass, no wall clock."""

    def __call__(self) -> float:
        self.now += 0.01
        return self.now


def test_the_official_serverless_client_completes_a_request_through_route(
    api: Api, emulator: Emulator
) -> None:
    """vastai 1.9.1's CoroutineServerless: endpoint lookup, /route/ polling, the worker call."""
    emulator.backend.clock = TickingClock()
    endpoint_id = api.endpoint(endpoint_name="sdk-ep", cold_workers=0, min_load=0, max_workers=2)
    api.workergroup(endpoint_id, launch_args=HTTP)

    async def request() -> dict[str, Any]:
        client = CoroutineServerless(
            KEY, autoscaler_url=emulator.url, webserver_url=emulator.url, max_poll_interval=0.2
        )
        client._ssl_context = ssl.create_default_context()  # it would download Vast's root cert
        async with client:
            endpoint = await client.get_endpoint("sdk-ep")
            result: dict[str, Any] = await client.queue_endpoint_request(
                endpoint, "/v1/echo", {"hello": "world"}, cost=100, timeout=30
            )
            return result

    result = asyncio.run(request())
    (worker_id, status) = states(api, endpoint_id)[0]
    assert (result["ok"], result["status"], status) == (True, 200, "IDLE")
    assert result["response"] == {
        "worker_id": worker_id,
        "reqnum": 1,
        "route": "/v1/echo",
        "payload": {"hello": "world"},
    }
