"""Templates: content-identical creates deduplicate, edits re-hash, search, delete."""

from __future__ import annotations

from tests.emulator.conftest import Api

TEMPLATE = {"name": "torch", "image": "pytorch/pytorch", "tag": "2.5", "env": "-e A=1", "runtype": "ssh"}


def test_create_answers_the_template_and_identical_content_deduplicates(api: Api) -> None:
    first = api.post("/api/v0/template/", TEMPLATE).json()
    assert first["success"] is True
    assert first["template"]["image"] == "pytorch/pytorch"
    second = api.post("/api/v0/template/", dict(TEMPLATE)).json()
    assert (second["template"]["id"], second["template"]["hash_id"]) == (
        first["template"]["id"],
        first["template"]["hash_id"],
    )
    different = api.post("/api/v0/template/", {**TEMPLATE, "tag": "2.6"}).json()
    assert different["template"]["id"] != first["template"]["id"]


def test_edit_keeps_the_id_and_changes_the_hash_every_time(api: Api) -> None:
    template = api.post("/api/v0/template/", TEMPLATE).json()["template"]
    edited = api.put("/api/v0/template/", {"hash_id": template["hash_id"], "tag": "2.6"}).json()["template"]
    assert edited["id"] == template["id"]
    assert edited["hash_id"] != template["hash_id"]
    assert edited["tag"] == "2.6"
    again = api.put("/api/v1/template/", {"id": template["id"], "hash_id": edited["hash_id"]}).json()[
        "template"
    ]
    assert again["hash_id"] not in (template["hash_id"], edited["hash_id"])  # even with nothing changed


def test_search_filters_with_select_filters(api: Api) -> None:
    template = api.post("/api/v0/template/", TEMPLATE).json()["template"]
    api.post("/api/v0/template/", {**TEMPLATE, "name": "other", "image": "other/image"})
    found = api.get(
        "/api/v0/template/", select_cols=["*"], select_filters={"hash_id": {"eq": template["hash_id"]}}
    )
    assert [t["id"] for t in found.json()["templates"]] == [template["id"]]
    assert len(api.get("/api/v0/template/").json()["templates"]) == 2


def test_delete_by_id_or_hash_and_404_when_missing(api: Api) -> None:
    one = api.post("/api/v0/template/", TEMPLATE).json()["template"]
    two = api.post("/api/v0/template/", {**TEMPLATE, "tag": "x"}).json()["template"]
    assert api.delete("/api/v0/template/", {"template_id": one["id"]}).json()["success"] is True
    assert api.delete("/api/v0/template/", {"hash_id": two["hash_id"]}).json()["success"] is True
    assert api.get("/api/v0/template/").json()["templates"] == []
    missing = api.delete("/api/v0/template/", {"template_id": one["id"]})
    assert (missing.status_code, missing.json()["error"]) == (404, "not_found")


def test_registry_passwords_are_never_shown(api: Api) -> None:
    body = {**TEMPLATE, "docker_login_user": "bob", "docker_login_pass": "hunter2"}
    template = api.post("/api/v0/template/", body).json()["template"]
    assert "docker_login_pass" not in template
    assert "hunter2" not in api.get("/api/v0/template/").text
