"""Injected faults: each kind at probability 1, determinism per seed, run-time changes."""

from __future__ import annotations

import contextlib

import pytest
import requests

from tests.emulator.conftest import Api
from vast_pulumi.emulator import Emulator, FaultSpec, FaultSpecError

KEY = "k"


def endpoints_in(emulator: Emulator) -> int:
    return len(emulator.backend.list_endpoints(emulator.backend.authenticate(KEY)))


@pytest.mark.parametrize(("status", "error"), [(500, "server_error"), (503, "service_unavailable")])
def test_a_status_fault_answers_the_api_error_and_applies_nothing(status: int, error: str) -> None:
    with Emulator(api_keys=[KEY], faults=f"{status}=1") as emu:
        response = Api(emu.url, KEY).post("/api/v0/endptjobs/", {"endpoint_name": "x"})
        assert response.status_code == status
        assert response.json()["success"] is False
        assert response.json()["error"] == error
        assert "Retry-After" not in response.headers
        assert endpoints_in(emu) == 0
        assert emu.request_log()[-1]["fault"] == str(status)


@pytest.mark.parametrize(
    ("style", "body"),
    [
        ("detail", {"detail": "API requests too frequent endpoint threshold=1.0"}),
        (
            "json",
            {
                "success": False,
                "error": "rate_limit_exceeded",
                "msg": "API requests too frequent endpoint threshold=1.0",
            },
        ),
    ],
)
def test_an_injected_429_takes_the_configured_rate_limit_shape_and_applies_nothing(
    style: str, body: dict[str, object]
) -> None:
    with Emulator(api_keys=[KEY], faults="429=1", rate_limit_style=style) as emu:
        response = Api(emu.url, KEY).post("/api/v0/endptjobs/", {"endpoint_name": "x"})
        assert (response.status_code, response.json()) == (429, body)
        assert "Retry-After" not in response.headers
        assert endpoints_in(emu) == 0
        assert emu.request_log()[-1]["fault"] == "429"


def test_reset_before_drops_the_connection_and_applies_nothing() -> None:
    with Emulator(api_keys=[KEY], faults="reset-before=1") as emu:
        with pytest.raises(requests.ConnectionError):
            Api(emu.url, KEY).post("/api/v0/endptjobs/", {"endpoint_name": "x"})
        assert endpoints_in(emu) == 0
        entry = emu.request_log()[-1]
        assert (entry["fault"], entry["status"], entry["method"]) == ("reset-before", None, "POST")


def test_reset_after_drops_the_connection_after_applying_the_create() -> None:
    with Emulator(api_keys=[KEY], faults="reset-after=1") as emu:
        with pytest.raises(requests.ConnectionError):
            Api(emu.url, KEY).post("/api/v0/endptjobs/", {"endpoint_name": "x"})
        assert endpoints_in(emu) == 1  # the client cannot know; the account now has it
        entry = emu.request_log()[-1]
        assert (entry["fault"], entry["status"]) == ("reset-after", 200)


def test_500_after_applies_the_create_then_answers_the_error() -> None:
    with Emulator(api_keys=[KEY], faults="500-after=1") as emu:
        response = Api(emu.url, KEY).post("/api/v0/endptjobs/", {"endpoint_name": "x"})
        assert response.status_code == 500
        assert (response.json()["success"], response.json()["error"]) == (False, "server_error")
        assert endpoints_in(emu) == 1  # applied, though the client was told it failed
        entry = emu.request_log()[-1]
        assert (entry["fault"], entry["status"], entry["route"]) == ("500-after", 500, "/api/v0/endptjobs/")


def test_a_dropped_connection_does_not_break_the_next_request() -> None:
    with Emulator(api_keys=[KEY], faults="reset-before=1") as emu:
        api = Api(emu.url, KEY)
        for _ in range(3):
            with pytest.raises(requests.ConnectionError):
                api.get("/api/v0/users/current/")
        emu.set_faults("")
        assert api.get("/api/v0/users/current/").status_code == 200


def test_the_control_plane_is_never_faulted() -> None:
    with Emulator(api_keys=[KEY], faults="500=1") as emu:
        assert requests.get(emu.url + "/_emulator/inventory", timeout=10).status_code == 200
        assert requests.get(emu.url + "/_emulator/requests", timeout=10).status_code == 200


def fault_sequence(seed: int, spec: str, calls: int = 40) -> list[str | None]:
    with Emulator(api_keys=[KEY], seed=seed, faults=spec) as emu:
        api = Api(emu.url, KEY)
        for _ in range(calls):
            with contextlib.suppress(requests.ConnectionError):
                api.get("/api/v0/users/current/")
        return [entry["fault"] for entry in emu.request_log()]


def test_faults_are_deterministic_for_a_seed() -> None:
    spec = "500=0.3,reset-before=0.2"
    first = fault_sequence(7, spec)
    assert first == fault_sequence(7, spec)
    assert first != fault_sequence(8, spec)
    assert {"500", "reset-before", None} == set(first)


def test_faults_change_at_run_time_through_the_control_plane() -> None:
    with Emulator(api_keys=[KEY]) as emu:
        api = Api(emu.url, KEY)
        assert api.get("/api/v0/users/current/").status_code == 200
        answer = requests.put(emu.url + "/_emulator/faults", json={"spec": "503=1"}, timeout=10)
        assert answer.json() == {"spec": "503=1", "faults": {"503": 1.0}}
        assert api.get("/api/v0/users/current/").status_code == 503
        requests.put(emu.url + "/_emulator/faults", json={"faults": {}}, timeout=10)
        assert requests.get(emu.url + "/_emulator/faults", timeout=10).json()["spec"] == ""
        assert api.get("/api/v0/users/current/").status_code == 200
        bad = requests.put(emu.url + "/_emulator/faults", json={"spec": "teapot=1"}, timeout=10)
        assert bad.status_code == 400


def test_latency_delays_api_answers() -> None:
    with Emulator(api_keys=[KEY], latency_ms=120) as emu:
        for _ in range(3):
            assert Api(emu.url, KEY).get("/api/v0/users/current/").status_code == 200
        for entry in emu.request_log():
            assert entry["duration_ms"] >= 120 * 0.75  # ±25% jitter


@pytest.mark.parametrize(
    "spec", ["500", "500=2", "reset=0.1", "500=0.6,503=0.6", "500=abc", "429-after=1", "x-after=1"]
)
def test_bad_fault_specs_are_refused(spec: str) -> None:
    with pytest.raises(FaultSpecError):
        FaultSpec.parse(spec)


def test_the_official_client_retries_through_transient_faults() -> None:
    from vastai.api.client import VastClient

    with Emulator(api_keys=[KEY], seed=5, faults="503=0.3,reset-before=0.2") as emu:
        client = VastClient(api_key=KEY, server_url=emu.url, retry=10)
        for _ in range(10):
            assert client.get("/users/current/").status_code == 200
