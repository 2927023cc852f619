"""Authentication and account isolation."""

from __future__ import annotations

import pytest
import requests

from tests.emulator.conftest import KEY, OTHER_KEY, Api
from vast_pulumi.emulator import Emulator

AUTH_ERROR = {"success": False, "error": "auth_error", "msg": "Invalid user key"}


@pytest.mark.parametrize("key", [None, "wrong-key"])
def test_missing_or_unknown_key_is_401_invalid_user_key_off_the_search_route(
    emulator: Emulator, key: str | None
) -> None:
    api = Api(emulator.url, key)
    for method, path in [
        ("GET", "/api/v0/endptjobs/"),
        ("POST", "/api/v0/workergroups/"),
        ("PUT", "/api/v0/asks/1/"),
        ("GET", "/api/v1/instances/"),
        ("GET", "/api/v0/instances/5/"),
    ]:
        response = api.call(method, path, {})
        assert (response.status_code, response.json()) == (401, AUTH_ERROR), (method, path)


def test_the_legacy_api_key_query_parameter_authenticates(emulator: Emulator) -> None:
    api = Api(emulator.url, None)
    response = api.get("/api/v0/workergroups/", api_key=KEY)
    assert response.json() == {"success": True, "results": []}


def test_accounts_never_see_each_others_resources(api: Api, other_api: Api) -> None:
    endpoint_id = api.endpoint(endpoint_name="mine")
    group_id = api.workergroup(endpoint_id)
    instance_id = api.rent(label="mine")

    assert other_api.get("/api/v0/endptjobs/").json()["msg"] == "No endpoints for user found"
    assert other_api.get("/api/v0/workergroups/").json()["results"] == []
    assert other_api.get("/api/v1/instances/").json()["instances"] == []
    assert other_api.get(f"/api/v0/instances/{instance_id}/").json() == {"instances": None}
    assert other_api.get(f"/api/v0/endptjobs/{endpoint_id}/").status_code == 400

    # Nor change or delete them, nor hang a workergroup on them.
    assert other_api.put(f"/api/v0/endptjobs/{endpoint_id}/", {"max_workers": 1}).status_code == 400
    assert other_api.delete(f"/api/v0/endptjobs/{endpoint_id}/").status_code == 400
    assert other_api.put(f"/api/v0/instances/{instance_id}/", {"label": "theirs"}).status_code == 404
    assert other_api.delete(f"/api/v0/instances/{instance_id}/").status_code == 404
    assert other_api.delete(f"/api/v0/workergroups/{group_id}/").status_code == 404
    hijack = other_api.post(
        "/api/v0/workergroups/", {"endpoint_id": endpoint_id, "search_params": "num_gpus=1"}
    )
    assert hijack.status_code == 400
    by_name = other_api.post(
        "/api/v0/workergroups/", {"endpoint_name": "mine", "search_params": "num_gpus=1"}
    )
    assert by_name.status_code == 400

    assert api.instance(instance_id)["label"] == "mine"  # type: ignore[index]
    assert len(api.get("/api/v0/workergroups/").json()["results"]) == 1


def test_a_private_template_is_invisible_to_other_accounts_and_a_public_one_is_not(
    api: Api, other_api: Api
) -> None:
    private = api.post("/api/v0/template/", {"name": "p", "image": "a/b"}).json()["template"]
    public = api.post("/api/v0/template/", {"name": "q", "image": "c/d", "private": False}).json()["template"]
    seen = {t["hash_id"] for t in other_api.get("/api/v0/template/").json()["templates"]}
    assert public["hash_id"] in seen
    assert private["hash_id"] not in seen


def test_users_current_describes_the_caller_without_its_key(api: Api, other_api: Api) -> None:
    mine, theirs = api.get("/api/v0/users/current").json(), other_api.get("/api/v0/users/current/").json()
    assert mine["id"] != theirs["id"]
    assert "api_key" not in mine
    assert mine["host_agreement_accepted"] is False


# Rejected keys as the real API answers them (auth.py).

SESSION_EXPIRED = {"success": False, "error": "auth_error", "msg": "Session expired. Please log in again."}
SEARCH = ("POST", "/api/v0/bundles/")


@pytest.mark.parametrize("key", [None, "wrong-key"])
def test_the_offer_search_answers_a_bad_key_with_404(emulator: Emulator, key: str | None) -> None:
    response = Api(emulator.url, key).call(*SEARCH, {"limit": 1})
    assert (response.status_code, response.json()) == (404, AUTH_ERROR)
    assert emulator.request_log()[-1]["account"] is None


def test_a_revoked_key_is_an_invalid_key_and_the_account_stays(api: Api, emulator: Emulator) -> None:
    emulator.add_key("account-1", "rotated-key")
    endpoint_id = api.endpoint(endpoint_name="kept")
    instance_id = api.rent()
    emulator.revoke_key(KEY)

    listed = api.get("/api/v1/instances/")
    assert (listed.status_code, listed.json()) == (401, AUTH_ERROR)
    searched = api.post("/api/v0/bundles/", {"limit": 1})
    assert (searched.status_code, searched.json()) == (404, AUTH_ERROR)

    rotated = Api(emulator.url, "rotated-key")
    assert [row["id"] for row in rotated.get("/api/v1/instances/").json()["instances"]] == [instance_id]
    assert rotated.get(f"/api/v0/endptjobs/{endpoint_id}/").json()["result"]["endpoint_name"] == "kept"


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/v0/endptjobs/"),
        ("GET", "/api/v1/instances/"),
        ("GET", "/api/v0/instances/5/"),
        ("DELETE", "/api/v0/instances/5/"),
        SEARCH,
    ],
)
def test_an_expired_session_key_answers_404_session_expired_everywhere(
    emulator: Emulator, method: str, path: str
) -> None:
    emulator.add_key("account-1", "session-key")
    emulator.expire_session("session-key")
    response = Api(emulator.url, "session-key").call(method, path, {})
    assert (response.status_code, response.json()) == (404, SESSION_EXPIRED)


def test_the_account_key_still_works_when_its_session_key_expired(api: Api, emulator: Emulator) -> None:
    emulator.add_key("account-1", "session-key")
    emulator.expire_session("session-key")
    assert api.get("/api/v0/workergroups/").status_code == 200


def test_keys_through_the_control_plane(api: Api, emulator: Emulator) -> None:
    def control(path: str, body: object) -> requests.Response:
        return requests.post(f"{emulator.url}/_emulator/{path}", json=body, timeout=10)

    assert control("accounts/account-1/keys", {"api_key": "second"}).json() == {"success": True}
    assert control("accounts/account-9/keys", {"api_key": "third"}).status_code == 404
    assert control("accounts/account-1/keys", {"api_key": OTHER_KEY}).status_code == 400  # another's
    assert control("keys/expire", {"api_key": "second"}).json() == {"success": True}
    assert Api(emulator.url, "second").get("/api/v0/workergroups/").status_code == 404
    assert control("keys/revoke", {"api_key": KEY}).json() == {"success": True}
    assert api.get("/api/v0/workergroups/").status_code == 401
    assert control("keys/revoke", {"api_key": "nobody's"}).status_code == 404
    assert control("keys/revoke", {}).status_code == 400
    assert Api(emulator.url, OTHER_KEY).get("/api/v0/workergroups/").status_code == 200
