"""The daily offer-search quota: 429 ``search_quota_exceeded`` with ``X-RateLimit-Reset``."""

from __future__ import annotations

import pytest
import requests

from tests.emulator.conftest import Api
from vast_pulumi.emulator import Emulator
from vast_pulumi.emulator.quota import DAY_SECONDS, QuotaExceeded, SearchQuota

EXCEEDED = {"success": False, "error": "search_quota_exceeded", "msg": "Daily search quota exceeded"}


def test_the_search_past_the_quota_is_429_with_the_reset_time() -> None:
    with Emulator(api_keys=["k"], search_quota=2) as emu:
        api = Api(emu.url, "k")
        assert api.post("/api/v0/bundles/", {"limit": 1}).status_code == 200
        assert api.put("/api/v0/search/asks/", {"q": {"limit": 1}}).status_code == 200
        over = api.post("/api/v0/bundles/", {"limit": 1})
        assert (over.status_code, over.json()) == (429, EXCEEDED)
        reset = int(over.headers["X-RateLimit-Reset"])
        assert reset % DAY_SECONDS == 0  # the next UTC midnight
        assert "Retry-After" not in over.headers
        # Other routes are not searches and do not count.
        assert api.get("/api/v0/workergroups/").status_code == 200


def test_the_quota_is_per_account() -> None:
    with Emulator(api_keys=["k", "j"], search_quota=1) as emu:
        assert Api(emu.url, "k").post("/api/v0/bundles/", {}).status_code == 200
        assert Api(emu.url, "k").post("/api/v0/bundles/", {}).status_code == 429
        assert Api(emu.url, "j").post("/api/v0/bundles/", {}).status_code == 200


def test_no_quota_by_default(api: Api) -> None:
    assert {api.post("/api/v0/bundles/", {"limit": 1}).status_code for _ in range(5)} == {200}


def test_the_quota_resets_at_utc_midnight_and_rejected_searches_do_not_count() -> None:
    now = [3 * DAY_SECONDS - 10.0]
    quota = SearchQuota(1, clock=lambda: now[0])
    quota.charge("a", "POST", "/api/v0/bundles/")
    for _ in range(3):
        with pytest.raises(QuotaExceeded) as caught:
            quota.charge("a", "POST", "/api/v0/bundles/")
    assert caught.value.headers == {"X-RateLimit-Reset": str(3 * DAY_SECONDS)}
    now[0] = 3 * DAY_SECONDS
    quota.charge("a", "POST", "/api/v0/bundles/")


def test_the_control_plane_exhausts_and_sets_the_quota(api: Api, emulator: Emulator) -> None:
    control = emulator.url + "/_emulator/"
    exhausted = requests.post(control + "accounts/account-1/search_quota/exhaust", timeout=10)
    assert exhausted.json() == {"success": True}
    assert api.post("/api/v0/bundles/", {}).json() == EXCEEDED
    assert requests.post(control + "accounts/nobody/search_quota/exhaust", timeout=10).status_code == 404

    emulator.reset()
    assert requests.put(control + "search_quota", json={"per_day": 1}, timeout=10).json() == {
        "success": True,
        "per_day": 1,
    }
    assert [api.post("/api/v0/bundles/", {}).status_code for _ in range(2)] == [200, 429]
    assert requests.put(control + "search_quota", json={"per_day": -1}, timeout=10).status_code == 400
