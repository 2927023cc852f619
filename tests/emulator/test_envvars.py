"""Account env vars (``/secrets/``): create, list, update, delete, and the spec's 400 codes."""

from __future__ import annotations

import pytest

from tests.emulator.conftest import Api
from vast_pulumi.emulator import Emulator
from vast_pulumi.emulator.envvars import MAX_ENV_VARS

SECRET = "hf_s3cr3t-value.1"


def test_create_upper_cases_the_name_and_the_list_shows_values_in_clear(api: Api) -> None:
    created = api.post("/api/v0/secrets/", {"key": "hf_token", "value": SECRET})
    assert (created.status_code, created.json()) == (
        200,
        {"success": True, "msg": "Environment variable added successfully"},
    )
    listed = api.get("/api/v0/secrets/")
    assert (listed.status_code, listed.json()) == (200, {"success": True, "secrets": {"HF_TOKEN": SECRET}})


def test_update_changes_the_value_in_place_and_delete_removes_it(api: Api) -> None:
    api.post("/api/v0/secrets/", {"key": "TOKEN", "value": "one"})
    updated = api.put("/api/v0/secrets/", {"key": "token", "value": "two"})
    assert (updated.status_code, updated.json()) == (
        200,
        {"success": True, "msg": "Environment variable updated successfully"},
    )
    assert api.get("/api/v0/secrets/").json()["secrets"] == {"TOKEN": "two"}
    deleted = api.delete("/api/v0/secrets/", {"key": "TOKEN"})
    assert (deleted.status_code, deleted.json()["success"]) == (200, True)
    assert api.get("/api/v0/secrets/").json()["secrets"] == {}


@pytest.mark.parametrize(
    ("method", "body", "error"),
    [
        ("POST", {"value": "v"}, "missing_input"),
        ("POST", {"key": "A"}, "missing_input"),
        ("POST", {"key": "", "value": "v"}, "empty_input"),
        ("POST", {"key": "A", "value": ""}, "empty_input"),
        ("POST", {"key": "1BAD", "value": "v"}, "invalid_characters"),
        ("POST", {"key": "A-B", "value": "v"}, "invalid_characters"),
        ("POST", {"key": "A", "value": "has space"}, "invalid_characters"),
        ("POST", {"key": "A" * 129, "value": "v"}, "input_too_long"),
        ("POST", {"key": "EXISTING", "value": "v"}, "existing_key"),
        ("POST", {"key": "existing", "value": "v"}, "existing_key"),  # names are case-insensitive
        ("PUT", {"key": "MISSING", "value": "v"}, "nonexistent_key"),
        ("PUT", {"key": "EXISTING"}, "missing_input"),
        ("DELETE", {"key": "MISSING"}, "nonexistent_key"),
        ("DELETE", {}, "missing_input"),
    ],
)
def test_bad_bodies_answer_the_specs_400_codes_and_change_nothing(
    api: Api, method: str, body: dict[str, str], error: str
) -> None:
    api.post("/api/v0/secrets/", {"key": "EXISTING", "value": "kept"})
    response = api.call(method, "/api/v0/secrets/", body)
    assert response.status_code == 400
    assert (response.json()["success"], response.json()["error"]) == (False, error)
    assert api.get("/api/v0/secrets/").json()["secrets"] == {"EXISTING": "kept"}


def test_no_error_message_repeats_a_value(api: Api) -> None:
    api.post("/api/v0/secrets/", {"key": "TOKEN", "value": SECRET})
    for response in (
        api.post("/api/v0/secrets/", {"key": "TOKEN", "value": SECRET}),
        api.put("/api/v0/secrets/", {"key": "OTHER", "value": SECRET}),
        api.post("/api/v0/secrets/", {"key": "X", "value": SECRET + " with space"}),
    ):
        assert response.status_code == 400
        assert "s3cr3t" not in response.text


def test_an_account_sees_only_its_own_env_vars(api: Api, other_api: Api) -> None:
    api.post("/api/v0/secrets/", {"key": "MINE", "value": "a"})
    other_api.post("/api/v0/secrets/", {"key": "THEIRS", "value": "b"})
    assert api.get("/api/v0/secrets/").json()["secrets"] == {"MINE": "a"}
    missing = api.delete("/api/v0/secrets/", {"key": "THEIRS"})
    assert (missing.status_code, missing.json()["error"]) == (400, "nonexistent_key")
    assert other_api.get("/api/v0/secrets/").json()["secrets"] == {"THEIRS": "b"}


def test_the_account_limit_answers_max_secrets(api: Api, emulator: Emulator) -> None:
    account = emulator.backend.authenticate("k-alpha")
    account.env_vars.update({f"V{n}": "x" for n in range(MAX_ENV_VARS)})
    response = api.post("/api/v0/secrets/", {"key": "ONE_MORE", "value": "x"})
    assert (response.status_code, response.json()["error"]) == (400, "max_secrets")


def test_the_inventory_names_env_vars_without_their_values(api: Api, emulator: Emulator) -> None:
    api.post("/api/v0/secrets/", {"key": "TOKEN", "value": SECRET})
    inventory = emulator.inventory()
    assert inventory[0]["env_vars"] == ["TOKEN"]
    assert "s3cr3t" not in str(inventory)
