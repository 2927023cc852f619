"""SSH keys: the account's (``/ssh/``) and those on an instance (``/instances/{id}/ssh/``)."""

from __future__ import annotations

import base64
import json

import pytest

from tests.emulator.conftest import Api


def public_key(n: int, kind: str = "ssh-ed25519", comment: str = "me@laptop") -> str:
    """A well-formed OpenSSH public key line: the blob names its type, then the key bytes."""
    blob = len(kind).to_bytes(4, "big") + kind.encode() + (32).to_bytes(4, "big") + bytes([n]) * 32
    return f"{kind} {base64.b64encode(blob).decode()} {comment}"


def test_create_answers_the_key_and_the_list_is_a_bare_array_naming_it_key(api: Api) -> None:
    created = api.post("/api/v0/ssh/", {"ssh_key": public_key(1) + "\n"})
    assert created.status_code == 200
    body = created.json()
    assert body["success"] is True
    key = body["key"]
    assert set(key) == {"id", "user_id", "public_key", "created_at", "deleted_at"}
    assert key["public_key"] == public_key(1)  # the trailing newline of a .pub file is dropped
    assert key["deleted_at"] is None
    assert key["created_at"].endswith("Z")
    listed = api.get("/api/v0/ssh/").json()
    assert listed == [
        {
            "id": key["id"],
            "user_id": key["user_id"],
            "key": public_key(1),
            "created_at": key["created_at"],
            "deleted_at": None,
        }
    ]


@pytest.mark.parametrize(
    ("ssh_key", "error"),
    [
        (None, "no_ssh_key"),
        ("", "no_ssh_key"),
        ("   ", "no_ssh_key"),
        ("-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n", "invalid_args"),
        ("ssh-foo AAAAC3NzaC1lZDI1NTE5 me", "invalid_args"),  # unknown type
        ("ssh-ed25519", "invalid_args"),  # no key data
        ("ssh-ed25519 not*base64 me", "invalid_args"),
        (public_key(1, kind="ssh-rsa").replace("ssh-rsa", "ssh-ed25519", 1), "invalid_args"),  # type mismatch
        (public_key(1) + "\n" + public_key(2), "invalid_args"),  # two lines
        (42, "no_ssh_key"),
    ],
)
def test_create_refuses_what_is_not_one_openssh_public_key_line(
    api: Api, ssh_key: object, error: str
) -> None:
    response = api.post("/api/v0/ssh/", {"ssh_key": ssh_key})
    assert response.status_code == 400
    body = response.json()
    assert (body["success"], body["error"]) == (False, error)
    if error == "no_ssh_key":
        assert body["msg"] == "No ssh key provided"
    else:
        assert body["msg"].startswith("Invalid args: ssh_key: ")
    assert api.get("/api/v0/ssh/").json() == []


@pytest.mark.parametrize("kind", ["ssh-rsa", "ecdsa-sha2-nistp256", "sk-ssh-ed25519@openssh.com"])
def test_other_openssh_key_types_are_accepted(api: Api, kind: str) -> None:
    response = api.post("/api/v0/ssh/", {"ssh_key": public_key(3, kind=kind, comment="")})
    assert response.status_code == 200, response.text


def test_the_same_key_twice_makes_two_account_keys(api: Api) -> None:
    first = api.post("/api/v0/ssh/", {"ssh_key": public_key(1)}).json()["key"]["id"]
    second = api.post("/api/v0/ssh/", {"ssh_key": public_key(1)}).json()["key"]["id"]
    assert first != second  # a blind retry leaves a second key: a client must find the first itself
    assert [k["id"] for k in api.get("/api/v0/ssh/").json()] == [first, second]


def test_update_replaces_the_key_text_and_delete_removes_it(api: Api) -> None:
    key_id = api.post("/api/v0/ssh/", {"ssh_key": public_key(1)}).json()["key"]["id"]
    updated = api.put(f"/api/v0/ssh/{key_id}/", {"id": key_id, "ssh_key": public_key(2)})
    assert updated.status_code == 200
    assert updated.json()["success"] is True
    assert updated.json()["key"]["public_key"] == public_key(2)
    assert [k["key"] for k in api.get("/api/v0/ssh/").json()] == [public_key(2)]
    bad = api.put(f"/api/v0/ssh/{key_id}/", {"ssh_key": "ssh-rsa nope"})
    assert (bad.status_code, bad.json()["error"]) == (400, "invalid_args")
    deleted = api.delete(f"/api/v0/ssh/{key_id}/")
    assert (deleted.status_code, deleted.json()) == (200, {"success": True})
    assert api.get("/api/v0/ssh/").json() == []


def test_an_unknown_or_another_accounts_key_is_no_ssh_key(api: Api, other_api: Api) -> None:
    theirs = other_api.post("/api/v0/ssh/", {"ssh_key": public_key(9)}).json()["key"]["id"]
    for response in (
        api.delete(f"/api/v0/ssh/{theirs}/"),
        api.put(f"/api/v0/ssh/{theirs}/", {"ssh_key": public_key(1)}),
        api.delete("/api/v0/ssh/999999/"),
    ):
        assert response.status_code == 400
        assert response.json() == {"success": False, "error": "no_ssh_key", "msg": "No ssh key provided"}
    assert [k["id"] for k in other_api.get("/api/v0/ssh/").json()] == [theirs]
    assert api.get("/api/v0/ssh/").json() == []


def instance_keys(api: Api, instance_id: int) -> list[dict[str, object]]:
    response = api.get(f"/api/v0/instances/{instance_id}/ssh/")
    assert response.status_code == 200, response.text
    assert response.json()["success"] is True
    raw = response.json()["ssh_keys"]
    assert isinstance(raw, str)  # a JSON string, as the spec documents it
    keys: list[dict[str, object]] = json.loads(raw)
    return keys


def test_a_new_instance_gets_the_account_keys_but_an_older_one_does_not(api: Api) -> None:
    before = api.rent()
    key = api.post("/api/v0/ssh/", {"ssh_key": public_key(1)}).json()["key"]
    after = api.rent()
    assert instance_keys(api, before) == []  # the client's note: add it to pre-existing instances
    assert instance_keys(api, after) == [{"id": key["id"], "name": None, "public_key": public_key(1)}]


def test_attach_and_detach_a_key_on_an_instance(api: Api) -> None:
    instance_id = api.rent()
    key_id = api.post("/api/v0/ssh/", {"ssh_key": public_key(1)}).json()["key"]["id"]
    attached = api.post(f"/api/v0/instances/{instance_id}/ssh/", {"ssh_key": public_key(1, comment="other")})
    assert (attached.status_code, attached.json()) == (
        200,
        {"success": True, "msg": "SSH key attached successfully"},
    )
    assert [k["id"] for k in instance_keys(api, instance_id)] == [key_id]  # an account key keeps its id

    again = api.post(f"/api/v0/instances/{instance_id}/ssh/", {"ssh_key": public_key(1)})
    assert (again.status_code, again.json()["error"]) == (400, "invalid_request")

    foreign = api.post(f"/api/v0/instances/{instance_id}/ssh/", {"ssh_key": public_key(5)})
    assert foreign.status_code == 200
    foreign_id = instance_keys(api, instance_id)[1]["id"]
    assert foreign_id != key_id
    assert [k["id"] for k in api.get("/api/v0/ssh/").json()] == [key_id]  # not added to the account

    detached = api.delete(f"/api/v0/instances/{instance_id}/ssh/{key_id}/")
    assert (detached.status_code, detached.json()) == (
        200,
        {"success": True, "msg": "SSH key removed from instance."},
    )
    assert [k["id"] for k in instance_keys(api, instance_id)] == [foreign_id]
    gone = api.delete(f"/api/v0/instances/{instance_id}/ssh/{key_id}/")
    assert (gone.status_code, gone.json()["error"]) == (404, "no_such_ssh_key")
    assert [k["id"] for k in api.get("/api/v0/ssh/").json()] == [key_id]  # detach leaves the account key


def test_instance_key_routes_answer_no_such_instance_for_another_accounts_box(
    api: Api, other_api: Api
) -> None:
    theirs = other_api.rent()
    for response in (
        api.get(f"/api/v0/instances/{theirs}/ssh/"),
        api.post(f"/api/v0/instances/{theirs}/ssh/", {"ssh_key": public_key(1)}),
        api.delete(f"/api/v0/instances/{theirs}/ssh/7001/"),
    ):
        assert response.status_code == 404
        assert response.json() == {
            "success": False,
            "error": "no_such_instance",
            "msg": "Instance not found.",
        }


def test_attach_validates_the_key_and_detach_the_key_id(api: Api) -> None:
    instance_id = api.rent()
    bad = api.post(f"/api/v0/instances/{instance_id}/ssh/", {"ssh_key": "not a key"})
    assert (bad.status_code, bad.json()["error"]) == (400, "invalid_args")
    missing = api.post(f"/api/v0/instances/{instance_id}/ssh/", {})
    assert (missing.status_code, missing.json()["error"]) == (400, "no_ssh_key")
    wrong = api.delete(f"/api/v0/instances/{instance_id}/ssh/abc/")
    assert wrong.status_code == 400
    assert wrong.json() == {"success": False, "error": "invalid_request", "msg": "Invalid request parameters"}


def test_deleting_an_account_key_leaves_it_on_its_instances(api: Api) -> None:
    key_id = api.post("/api/v0/ssh/", {"ssh_key": public_key(1)}).json()["key"]["id"]
    instance_id = api.rent()
    assert api.delete(f"/api/v0/ssh/{key_id}/").status_code == 200
    assert [k["id"] for k in instance_keys(api, instance_id)] == [key_id]
