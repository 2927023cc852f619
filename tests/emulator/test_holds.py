"""Holds (``/_emulator/hold``): a test parks one route's requests, acts, then releases them."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor

import pytest
import requests

from tests.emulator.conftest import Api
from vast_pulumi.emulator import Emulator

WORKERGROUPS = "/api/v0/workergroups/"


def control(emulator: Emulator, method: str, body: object = None) -> requests.Response:
    return requests.request(method, emulator.url + "/_emulator/hold", json=body, timeout=10)


def parked(emulator: Emulator) -> int:
    return sum(int(str(hold["parked"])) for hold in emulator.holds())


def wait_for(condition: Callable[[], bool]) -> None:
    """Until ``condition`` holds; a generous deadline only stops a broken test from hanging."""
    deadline = time.monotonic() + 30
    while not condition():
        assert time.monotonic() < deadline, "condition never came true"
        time.sleep(0.005)


@pytest.fixture
def in_background() -> Iterator[Callable[[Callable[[], requests.Response]], Future[requests.Response]]]:
    with ThreadPoolExecutor(max_workers=2) as pool:
        yield pool.submit


def test_a_held_request_waits_unapplied_until_released(
    api: Api, emulator: Emulator, in_background: Callable[..., Future[requests.Response]]
) -> None:
    emulator.hold("POST", "/api/v0/endptjobs/")
    answer = in_background(api.post, "/api/v0/endptjobs/", {"endpoint_name": "held"})
    wait_for(lambda: parked(emulator) == 1)
    assert emulator.inventory()[0]["endpoints"] == []  # not applied yet
    assert emulator.request_log() == []
    assert not answer.done()
    assert api.get("/api/v0/workergroups/").status_code == 200  # other routes are not held
    emulator.release()
    assert answer.result(timeout=10).status_code == 200
    assert [row["endpoint_name"] for row in emulator.inventory()[0]["endpoints"]] == ["held"]


def test_an_after_hold_applies_the_request_and_keeps_the_answer_back(
    api: Api, emulator: Emulator, in_background: Callable[..., Future[requests.Response]]
) -> None:
    endpoint_id = api.endpoint()
    emulator.hold("POST", WORKERGROUPS, stage="after")
    answer = in_background(
        api.post, WORKERGROUPS, {"endpoint_id": endpoint_id, "search_params": "num_gpus=1"}
    )
    wait_for(lambda: parked(emulator) == 1)
    assert len(emulator.inventory()[0]["workergroups"]) == 1  # applied
    assert (emulator.request_log()[-1]["route"], emulator.request_log()[-1]["status"]) == (WORKERGROUPS, 200)
    assert not answer.done()
    emulator.release()
    assert answer.result(timeout=10).status_code == 200


def test_a_route_template_matches_any_id(
    api: Api, emulator: Emulator, in_background: Callable[..., Future[requests.Response]]
) -> None:
    instance_id = api.rent()
    emulator.hold("GET", "/api/v0/instances/{id}/")
    answer = in_background(api.get, f"/api/v0/instances/{instance_id}")  # no trailing slash
    wait_for(lambda: parked(emulator) == 1)
    emulator.release()
    assert answer.result(timeout=10).json()["instances"]["id"] == instance_id


def test_the_control_plane_adds_lists_and_releases_holds(
    api: Api, emulator: Emulator, in_background: Callable[..., Future[requests.Response]]
) -> None:
    added = control(emulator, "PUT", {"method": "get", "route": WORKERGROUPS})
    assert added.json() == {
        "holds": [{"method": "GET", "route": WORKERGROUPS, "stage": "before", "parked": 0}]
    }
    answer = in_background(api.get, WORKERGROUPS)
    wait_for(lambda: control(emulator, "GET").json()["holds"][0]["parked"] == 1)
    assert control(emulator, "DELETE").json() == {"holds": []}
    assert answer.result(timeout=10).status_code == 200


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"method": "GET", "route": WORKERGROUPS, "stage": "during"}, "stage must be one of before, after"),
        ({"method": "GET", "route": "/_emulator/requests/"}, "route must be an API route template"),
        ({"route": WORKERGROUPS}, "method, route and stage are strings"),
    ],
)
def test_a_bad_hold_is_refused(emulator: Emulator, body: dict[str, str], message: str) -> None:
    response = control(emulator, "PUT", body)
    assert response.status_code == 400
    assert message in response.json()["msg"]
    assert emulator.holds() == []


def test_stopping_the_emulator_releases_parked_requests() -> None:
    emulator = Emulator(api_keys=["k-hold"]).start()
    held = Api(emulator.url, "k-hold")
    emulator.hold("GET", WORKERGROUPS)
    outcome: list[object] = []
    thread = threading.Thread(target=lambda: outcome.append(held.get(WORKERGROUPS).status_code))
    thread.start()
    wait_for(lambda: parked(emulator) == 1)
    emulator.stop()
    thread.join(timeout=10)
    assert outcome == [200]
