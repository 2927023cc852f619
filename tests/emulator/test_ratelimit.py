"""``rate_limits``: per-account, per-route minimum intervals from the published thresholds."""

from __future__ import annotations

import time

import pytest

from tests.emulator.conftest import Api
from vast_pulumi.emulator import ApiError, Emulator
from vast_pulumi.emulator.ratelimit import THRESHOLDS, RateLimiter, route_key

SCALE = 0.05  # GET /endptjobs/ (3.0 s) becomes 150 ms


def test_calls_faster_than_the_threshold_get_429_without_retry_after() -> None:
    with Emulator(api_keys=["k"], rate_limits=True) as emu:
        api = Api(emu.url, "k")
        assert api.get("/api/v0/endptjobs/").status_code == 200
        too_soon = api.get("/api/v0/endptjobs/")
        assert too_soon.status_code == 429
        assert "Retry-After" not in too_soon.headers
        assert too_soon.json() == {
            "success": False,
            "error": "rate_limit_exceeded",
            "msg": "API requests too frequent endpoint threshold=3.0",
        }


def test_calls_slower_than_the_threshold_all_succeed() -> None:
    with Emulator(api_keys=["k"], rate_limits=True, rate_limit_scale=SCALE) as emu:
        api = Api(emu.url, "k")
        statuses = []
        for _ in range(4):
            statuses.append(api.get("/api/v0/endptjobs/").status_code)
            time.sleep(3.0 * SCALE + 0.05)
        assert statuses == [200, 200, 200, 200]


def test_limits_are_per_route_per_method_and_per_account() -> None:
    with Emulator(api_keys=["k", "j"], rate_limits=True, rate_limit_scale=1.0) as emu:
        api, other = Api(emu.url, "k"), Api(emu.url, "j")
        assert api.get("/api/v0/endptjobs/").status_code == 200
        assert api.post("/api/v0/endptjobs/", {"endpoint_name": "a"}).status_code == 200  # other method
        assert api.get("/api/v0/workergroups/").status_code == 200  # other route
        assert other.get("/api/v0/endptjobs/").status_code == 200  # other account
        assert api.get("/api/v0/endptjobs/").status_code == 429
        assert api.get("/api/v0/autojobs/").status_code == 429  # same server route as workergroups
        # Routes without a published threshold are never limited.
        assert all(api.post("/api/v0/bundles/", {"limit": 1}).status_code == 200 for _ in range(5))


def test_a_rejected_call_does_not_reset_the_interval() -> None:
    now = [0.0]
    limiter = RateLimiter(enabled=True, scale=1.0, clock=lambda: now[0])
    limiter.check("a", "GET", "/api/v0/endptjobs/")
    now[0] = 2.0
    with pytest.raises(ApiError) as rejected:
        limiter.check("a", "GET", "/api/v0/endptjobs/")
    assert rejected.value.status == 429
    now[0] = 3.0  # 3 s after the accepted call, 1 s after the rejected one
    limiter.check("a", "GET", "/api/v0/endptjobs/")


def test_no_limits_unless_enabled(api: Api) -> None:
    assert {api.get("/api/v0/endptjobs/").status_code for _ in range(5)} == {200}


def test_thresholds_cover_the_routes_the_provider_uses() -> None:
    for method, route, seconds in [
        ("PUT", "/api/v0/asks/{id}/", 4.5),
        ("GET", "/api/v0/instances/{id}/", 2.0),
        ("PUT", "/api/v0/instances/{id}/", 1.0),
        ("DELETE", "/api/v0/instances/{id}/", 3.0),
        ("GET", "/api/v1/instances/", 1.0),
        ("POST", "/api/v0/endptjobs/", 4.0),
        ("PUT", "/api/v0/autojobs/{id}/", 2.0),
        ("GET", "/api/v0/template/", 3.0),
    ]:
        assert THRESHOLDS[route_key(method, route)] == seconds
