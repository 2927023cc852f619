"""The emulator answers every read route in the shape the provider reads (``vast_pulumi._route_shapes``,
the shapes ``vast-pulumi doctor`` checks a real account against): the two cannot drift apart
silently. The emulator itself imports no provider code; this test brings them together."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.emulator.conftest import Api
from vast_pulumi import _route_shapes
from vast_pulumi.emulator import Emulator

SSH_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHmXn5cT7jTeeGzXN4eoc4fQbL5JGvQ+x0UiFGXUNQ0E me@laptop"
KEY = "k-shapes"


@pytest.fixture(params=["default", "pessimistic"])
def account(request: pytest.FixtureRequest) -> Iterator[tuple[Emulator, Api]]:
    with Emulator(
        api_keys=[KEY], seed=3, boot_seconds=0.0, destroy_seconds=300.0, profile=request.param
    ) as emu:
        api = Api(emu.url, KEY)
        endpoint = api.endpoint()
        template = api.post("/api/v0/template/", {"name": "t", "image": "pytorch/pytorch"}).json()["template"]
        api.workergroup(endpoint, template_hash=template["hash_id"], launch_args="--env '-e A=1'")
        emu.set_endpoint_load(endpoint, 1)
        offer = api.offers(limit=1)[0]
        api.rent(offer["id"], price=round(offer["min_bid"] * 1.5, 4))
        doomed = api.rent()
        api.delete(f"/api/v0/instances/{doomed}/")
        assert api.post("/api/v0/ssh/", {"ssh_key": SSH_KEY}).status_code == 200
        api.post("/api/v0/secrets/", {"key": "NAME", "value": "v"})
        volume = api.post("/api/v0/volumes/search/", {"limit": 1}).json()["offers"][0]
        assert (
            api.put("/api/v0/volumes/", {"id": volume["id"], "size": 10, "name": "data"}).status_code == 200
        )
        api.doomed = doomed  # type: ignore[attr-defined]
        yield emu, api


def answers(api: Api) -> dict[str, Any]:
    user = api.get("/api/v0/users/current/").json()
    return {
        "GET /api/v0/users/current/": user,
        "GET /api/v1/instances/": api.get("/api/v1/instances/", limit=25).json(),
        "GET /api/v0/instances/{id}/": api.get(f"/api/v0/instances/{api.doomed}/", owner="me").json(),  # type: ignore[attr-defined]
        "GET /api/v0/endptjobs/": api.get("/api/v0/endptjobs/").json(),
        "GET /api/v0/workergroups/": api.get("/api/v0/workergroups/").json(),
        "GET /api/v0/ssh/": api.get("/api/v0/ssh/").json(),
        "GET /api/v0/secrets/": api.get("/api/v0/secrets/").json(),
        "GET /api/v0/template/": api.get(
            "/api/v0/template/", select_cols=["*"], select_filters={"creator_id": {"eq": user["id"]}}
        ).json(),
        "GET /api/v0/volumes/": api.get("/api/v0/volumes/", owner="me", type="local_volume").json(),
        "POST /api/v0/bundles/": api.post("/api/v0/bundles/", {"limit": 3}).json(),
    }


def test_every_read_route_answers_in_the_shape_the_provider_reads(account: tuple[Emulator, Api]) -> None:
    _, api = account
    found = answers(api)
    assert set(found) == {shape.name for shape in _route_shapes.SHAPES}
    problems = [d for shape in _route_shapes.SHAPES for d in _route_shapes.check(shape, found[shape.name])]
    assert problems == []
    for shape in _route_shapes.SHAPES:  # and the answers are not empty where rows are expected
        payload = found[shape.name]
        rows = payload if shape.rows_at == "" else payload.get(shape.rows_at) if shape.rows_at else None
        assert rows is None or len(rows) > 0, shape.name


def test_the_check_names_a_missing_field_and_its_likely_new_name() -> None:
    shape = _route_shapes.shape_for("GET", "/api/v0/volumes/")
    assert shape is not None
    row = {"id": 1, "label": None, "disk_space": 10.0, "machine": 4, "storage_total_cost": 0.1}
    assert [d.as_json() for d in _route_shapes.check(shape, {"volumes": [row]})] == [
        {
            "route": "GET /api/v0/volumes/",
            "field": "volumes[0].machine_id",
            "problem": "missing (renamed to 'machine'?)",
        }
    ]
