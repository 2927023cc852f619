"""The serverless readings: ``worker_recruit`` (audit S2) and ``worker_ties`` (S8), each choice."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.emulator.conftest import KEY, Api, ManualClock
from vast_pulumi.emulator import Emulator
from vast_pulumi.emulator.autoscaler import RECRUIT_SECONDS


@pytest.fixture
def start() -> Iterator[Any]:
    started: list[Emulator] = []

    def make(**readings: str) -> tuple[Emulator, Api, ManualClock]:
        emu = Emulator(api_keys=[KEY], boot_seconds=0.3, seed=1, readings=readings).start()
        started.append(emu)
        clock = ManualClock()
        emu.backend.clock = clock
        return emu, Api(emu.url, KEY), clock

    yield make
    for emu in started:
        emu.stop()


def instances(api: Api) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = api.get("/api/v1/instances/").json()["instances"]
    return rows


def test_worker_recruit_sync_rents_in_the_deciding_call(start: Any) -> None:
    _, api, _ = start(worker_recruit="sync")
    api.workergroup(api.endpoint(cold_workers=2))
    assert len(instances(api)) == 2


def test_worker_recruit_late_lands_after_recruit_seconds_even_after_the_groups_delete(start: Any) -> None:
    _, api, clock = start(worker_recruit="late")
    endpoint_id = api.endpoint(cold_workers=2)
    group_id = api.workergroup(endpoint_id, launch_args='--env "-e VAST_PULUMI_GROUP_MARKER=m1"')
    assert instances(api) == []  # decided, in flight
    clock.advance(RECRUIT_SECONDS - 0.01)
    assert instances(api) == []
    assert api.delete(f"/api/v0/workergroups/{group_id}/").json()["deleted_workers"] == []
    clock.advance(0.01)
    late = instances(api)
    assert len(late) == 2  # the rents in flight landed after the delete: detached, billing
    for row in late:
        assert (row["workergroup_id"], row["endpoint_id"]) == (None, None)
        assert dict(row["extra_env"])["VAST_PULUMI_GROUP_MARKER"] == "m1"
        assert row["dph_total"] > 0
    assert api.post("/get_workergroup_workers/", {"id": group_id}).json() == (
        f"authenticate_workergroup_apikey: invalid api_key or workergroup {group_id} not found"
    )


@pytest.mark.parametrize("choice", ["tied", "untied"])
def test_worker_ties_rows_name_their_group_or_nothing(start: Any, choice: str) -> None:
    _, api, _ = start(worker_ties=choice)
    endpoint_id = api.endpoint(cold_workers=1)
    group_id = api.workergroup(endpoint_id)
    (row,) = instances(api)
    single = api.get(f"/api/v0/instances/{row['id']}/").json()["instances"]
    if choice == "tied":
        assert (
            (row["workergroup_id"], row["endpoint_id"])
            == (group_id, endpoint_id)
            == (
                single["workergroup_id"],
                single["endpoint_id"],
            )
        )
    else:
        assert not {"workergroup_id", "endpoint_id"} & (set(row) | set(single))
    # Either way the autoscaler's own routes still list the worker.
    assert [w["id"] for w in api.post("/get_endpoint_workers/", {"id": endpoint_id}).json()] == [row["id"]]
