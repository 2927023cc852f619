"""``rate_limits``: per-account, per-route minimum intervals from the published thresholds, answered
in each of the real API's 429 shapes, with or without ``Retry-After``."""

from __future__ import annotations

from typing import Any

import pytest
import requests

from tests.data import spec_thresholds
from tests.emulator.conftest import Api, ManualClock
from vast_pulumi.emulator import Emulator
from vast_pulumi.emulator.ratelimit import THRESHOLDS, RateLimiter, Throttled, threshold

SCALE = 0.05  # GET /workergroups/ (2.0 s) becomes 100 ms
LIMITED = "/api/v0/workergroups/"  # GET: 2.0 s between calls
MESSAGE = "API requests too frequent endpoint threshold=2.0"
SPEC = spec_thresholds()


def too_soon(**options: Any) -> requests.Response:
    """The answer to a second call of a limited route made at once."""
    with Emulator(api_keys=["k"], rate_limits=True, **options) as emu:
        api = Api(emu.url, "k")
        assert api.get(LIMITED).status_code == 200
        return api.get(LIMITED)


def test_by_default_a_429_is_the_detail_shape_without_retry_after() -> None:
    response = too_soon()
    assert response.status_code == 429
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {"detail": MESSAGE}
    assert "Retry-After" not in response.headers


def test_the_json_error_style() -> None:
    response = too_soon(rate_limit_style="json")
    assert (response.status_code, response.json()) == (
        429,
        {"success": False, "error": "rate_limit_exceeded", "msg": MESSAGE},
    )


def test_the_plain_text_style() -> None:
    response = too_soon(rate_limit_style="text")
    assert (response.status_code, response.text) == (429, MESSAGE)
    assert response.headers["content-type"] == "text/plain; charset=utf-8"


def test_retry_after_gives_the_seconds_left_rounded_up() -> None:
    response = too_soon(retry_after=True)
    assert response.status_code == 429
    assert response.headers["Retry-After"] == "2"


def test_retry_after_counts_from_the_last_accepted_call() -> None:
    now = [0.0]
    limiter = RateLimiter(enabled=True, retry_after=True, clock=lambda: now[0])
    limiter.check("a", "GET", LIMITED)
    now[0] = 0.5
    with pytest.raises(Throttled) as rejected:
        limiter.check("a", "GET", LIMITED)
    assert rejected.value.headers == {"Retry-After": "2"}  # 1.5 s left
    now[0] = 1.2
    with pytest.raises(Throttled) as rejected:
        limiter.check("a", "GET", LIMITED)
    assert rejected.value.headers == {"Retry-After": "1"}  # 0.8 s left


def test_an_unknown_style_is_refused() -> None:
    with pytest.raises(ValueError, match="teapot"):
        RateLimiter(enabled=True, style="teapot")


def manual_limiter_clock(emulator: Emulator) -> ManualClock:
    """The rate limiter's clock, moved by the test: no interval depends on how fast the machine is."""
    clock = ManualClock()
    emulator.runtime.limiter.clock = clock
    return clock


def test_calls_slower_than_the_threshold_all_succeed() -> None:
    with Emulator(api_keys=["k"], rate_limits=True, rate_limit_scale=SCALE) as emu:
        clock = manual_limiter_clock(emu)
        api = Api(emu.url, "k")
        statuses = []
        for _ in range(4):
            statuses.append(api.get(LIMITED).status_code)
            clock.advance(2.0 * SCALE + 0.001)  # just past the interval
        assert statuses == [200, 200, 200, 200]
        assert api.get(LIMITED).status_code == 200
        clock.advance(2.0 * SCALE - 0.01)  # just inside the interval: too soon
        assert api.get(LIMITED).status_code == 429


def test_limits_are_per_route_per_method_and_per_account() -> None:
    with Emulator(api_keys=["k", "j"], rate_limits=True, rate_limit_scale=1.0) as emu:
        manual_limiter_clock(emu)  # no time passes between the calls below
        api, other = Api(emu.url, "k"), Api(emu.url, "j")
        assert api.get("/api/v0/workergroups/").status_code == 200
        assert api.post("/api/v0/endptjobs/", {"endpoint_name": "a"}).status_code == 200  # other method
        assert api.get("/api/v0/endptjobs/").status_code == 200  # other route
        assert other.get("/api/v0/workergroups/").status_code == 200  # other account
        assert api.get("/api/v0/workergroups/").status_code == 429
        assert api.get("/api/v0/autojobs/").status_code == 429  # same server route as workergroups
        # Routes without a published threshold are never limited.
        assert all(api.post("/api/v0/bundles/", {"limit": 1}).status_code == 200 for _ in range(5))


def test_a_rejected_call_does_not_reset_the_interval() -> None:
    now = [0.0]
    limiter = RateLimiter(enabled=True, scale=1.0, clock=lambda: now[0])
    limiter.check("a", "GET", "/api/v0/endptjobs/")
    now[0] = 2.0
    with pytest.raises(Throttled) as rejected:
        limiter.check("a", "GET", "/api/v0/endptjobs/")
    assert rejected.value.status == 429
    now[0] = 3.0  # 3 s after the accepted call, 1 s after the rejected one
    limiter.check("a", "GET", "/api/v0/endptjobs/")


def test_no_limits_unless_enabled(api: Api) -> None:
    assert {api.get(LIMITED).status_code for _ in range(5)} == {200}


def test_every_threshold_of_the_spec_is_in_the_table() -> None:
    assert SPEC, "the recorded thresholds are empty"
    assert {key: THRESHOLDS.get(key) for key in SPEC} == SPEC


def test_the_table_limits_nothing_the_spec_leaves_unlimited() -> None:
    assert set(THRESHOLDS) == set(SPEC)


@pytest.mark.parametrize(
    ("method", "route", "spec_path"),
    [
        ("PUT", "/api/v0/autojobs/{id}/", "/api/v0/workergroups/{id}"),  # the alias, with the slash
        ("DELETE", "/api/v0/instances/{id}/ssh/{key}/", "/api/v0/instances/{id}/ssh/{ssh_key_id}"),
        ("get", "/api/v1/instances/", "/api/v1/instances"),
    ],
)
def test_a_route_finds_its_threshold_however_it_is_spelled(method: str, route: str, spec_path: str) -> None:
    assert threshold(method, route) == SPEC[(method.upper(), spec_path)]
