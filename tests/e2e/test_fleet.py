"""Issue 14 acceptance: a ``Fleet`` through the real Pulumi CLI against the emulator. Every claim is
checked through the Vast API itself (``VastInventory``), not through Pulumi's state."""

from __future__ import annotations

import re
import threading
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import copy_example, tracebacks_through_our_code
from tests.e2e.fleet import live_ids, managed_ids, set_faults, write_fleet_project
from tests.e2e.test_resilience import EMPTY, FAULTS, deploy, kill_up_when, recover, rented
from tests.e2e.vast_api import VastInventory
from vast_pulumi.emulator import Emulator
from vast_pulumi.emulator.pytest_plugin import FAST_DESTROY_SECONDS
from vast_pulumi.local_pulumi import LocalBackend, Stack

API_KEY = "e2e-resilience-key"  # deploy() sets this key
PROGRAM = """
import pulumi
from vast_pulumi import Fleet

config = pulumi.Config()
fleet = Fleet(
    "gpus",
    count=config.require_int("count"),
    offer_query="num_gpus=1",
    image=config.get("image") or "vastai/base-image",
    disk=16,
    max_dph_total=config.get_float("budget"),
    rollout={"max_unavailable": 1, "max_surge": 2},
    label_prefix="gpu",
)
pulumi.export("ids", fleet.instance_ids)
pulumi.export("ready", fleet.ready_count)
pulumi.export("members", fleet.members)
"""
RENT = ("PUT", "/api/v0/asks/{id}/")


def fleet_stack(backend: LocalBackend, emulator: Emulator, tmp_path: Path, count: int) -> Stack:
    project = tmp_path / "fleet"
    project.mkdir()
    (project / "Pulumi.yaml").write_text("name: fleet\nruntime: python\n")
    (project / "__main__.py").write_text(PROGRAM)
    stack = deploy(backend, emulator, project)
    stack.set_config("count", str(count))
    return stack


def fleet_state(stack: Stack) -> dict[str, Any]:
    (fleet,) = [r for r in stack.resources() if r["type"] == "pulumi-python:dynamic/vast:Fleet"]
    outputs: dict[str, Any] = fleet["outputs"]
    return outputs


def inventory(emulator: Emulator) -> list[dict[str, Any]]:
    return VastInventory(emulator.url, API_KEY).instances()


def running(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [row for row in rows if row.get("actual_status") == "running"]


def rents(emulator: Emulator, since: int = 0) -> int:
    return sum(1 for r in emulator.request_log(since) if (r["method"], r["route"]) == RENT)


@pytest.fixture
def emulator() -> Any:
    with Emulator(
        destroy_seconds=FAST_DESTROY_SECONDS, api_keys=[API_KEY], seed=4, boot_seconds=1, workers=False
    ) as emulator:
        yield emulator


def test_spread_holds_and_scale_8_to_5_to_8(
    local_backend: LocalBackend, emulator: Emulator, tmp_path: Path
) -> None:
    stack = fleet_stack(local_backend, emulator, tmp_path, 8)
    stack.up()
    rows = inventory(emulator)
    assert len(running(rows)) == 8
    assert len({row["machine_id"] for row in rows}) == 8  # no two members share a machine
    eight = set(stack.outputs()["ids"])
    assert eight == {row["id"] for row in rows}

    stack.set_config("count", "5")
    stack.up()
    five = {row["id"] for row in inventory(emulator)}
    assert len(five) == 5 and five <= eight and set(stack.outputs()["ids"]) == five

    stack.set_config("count", "8")
    stack.up()
    rows = inventory(emulator)
    assert len(running(rows)) == 8 and five <= {row["id"] for row in rows}
    assert len({row["machine_id"] for row in rows}) == 8
    stack.preview("--expect-no-changes")  # the scaled fleet is what the program says


def test_budget_refusal_rents_nothing(
    local_backend: LocalBackend, emulator: Emulator, tmp_path: Path
) -> None:
    stack = fleet_stack(local_backend, emulator, tmp_path, 4)
    stack.set_config("budget", "0.01")
    result = stack.up(check=False)
    assert result.returncode != 0
    assert "max_dph_total: the cheapest 4 new member(s) cost" in result.output
    assert "over the budget of $0.01/h; nothing was rented" in result.output
    assert rents(emulator) == 0
    assert inventory(emulator) == []


def test_members_lost_out_of_band_show_on_refresh_and_up_replaces_exactly_those(
    local_backend: LocalBackend, emulator: Emulator, tmp_path: Path
) -> None:
    stack = fleet_stack(local_backend, emulator, tmp_path, 5)
    stack.up()
    ids = stack.outputs()["ids"]
    lost = ids[:3]
    emulator.backend.host_destroy_instance(lost[0])
    emulator.backend.host_destroy_instance(lost[1])
    emulator.backend.host_set_status(lost[2], "exited", "preempted")
    stack.refresh()
    refreshed = fleet_state(stack)  # stack outputs change only on `up`: read the resource's state
    assert sorted(m["id"] for m in refreshed["members"] if not m["healthy"]) == sorted(lost)
    assert refreshed["ready_count"] == 2
    mark = len(emulator.request_log())
    stack.up()
    assert rents(emulator, mark) == 3
    rows = inventory(emulator)
    assert len(running(rows)) == 5
    assert set(ids[3:]) <= {row["id"] for row in rows}
    assert not set(lost) & {row["id"] for row in rows}
    stack.preview("--expect-no-changes")  # the replaced members leave nothing to do


def test_an_image_rollout_keeps_count_minus_max_unavailable_running(
    local_backend: LocalBackend, emulator: Emulator, tmp_path: Path
) -> None:
    stack = fleet_stack(local_backend, emulator, tmp_path, 4)
    stack.up()
    old = set(stack.outputs()["ids"])
    stack.set_config("image", "pytorch/pytorch")
    samples: list[tuple[int, int]] = []
    done = threading.Event()

    def sample() -> None:  # through the API, as a user's monitoring would
        while not done.is_set():
            rows = inventory(emulator)
            samples.append((len(rows), len(running(rows))))
            done.wait(0.05)

    sampler = threading.Thread(target=sample)
    sampler.start()
    try:
        stack.up()
    finally:
        done.set()
        sampler.join()
    rows = inventory(emulator)
    assert len(running(rows)) == 4 and all(row["image_uuid"] == "pytorch/pytorch" for row in rows)
    assert not old & {row["id"] for row in rows}
    assert len(samples) > 5
    assert min(up for _, up in samples) >= 3  # count - max_unavailable


def test_a_killed_up_mid_create_recovers_with_exactly_count_members(
    local_backend: LocalBackend, tmp_path: Path
) -> None:
    with Emulator(api_keys=[API_KEY], seed=5, boot_seconds=3, workers=False, destroy_seconds=0.0) as emulator:
        stack = fleet_stack(local_backend, emulator, tmp_path, 6)
        kill_up_when(stack, emulator, rented(3))
        assert stack.resources() == [] or not [r for r in stack.resources() if r["type"].endswith(":Fleet")]
        recover(stack)
        managed = managed_ids(stack)
        assert len(managed["instances"]) == 6
        assert live_ids(emulator, API_KEY)["instances"] == managed["instances"]
        stack.destroy()
        assert live_ids(emulator, API_KEY) == EMPTY


def test_fault_matrix_with_a_fleet_leaves_no_duplicates_or_orphans(
    local_backend: LocalBackend, tmp_path: Path
) -> None:
    project = write_fleet_project(tmp_path / "faults", "faults", 2, fleet_members=6)
    local_backend.extra_env["VAST_PULUMI_PACING_SCALE"] = "0"
    with Emulator(
        destroy_seconds=FAST_DESTROY_SECONDS,
        api_keys=[API_KEY],
        seed=1,
        boot_seconds=1,
        latency_ms=20,
        faults=FAULTS,
    ) as emulator:
        stack = deploy(local_backend, emulator, project)
        stack.up()
        managed = managed_ids(stack)
        assert len(managed["instances"]) == 2 + 1 + 6
        assert live_ids(emulator, API_KEY) == managed
        set_faults(emulator, FAULTS)  # live_ids switched them off
        stack.destroy()
        assert live_ids(emulator, API_KEY) == EMPTY
        # The faults hit the routes a fleet's members go through (rents, the instance list, updates,
        # deletes), which the stack's plain instances share. Read by path: a fault drawn before the
        # request reaches its route (429, 500, 503, reset-before) logs no route.
        faulted = [(r["method"], r["path"].split("?")[0]) for r in emulator.request_log() if r.get("fault")]
        fleet_calls = [
            (method, path)
            for method, path in faulted
            if (method in ("PUT", "DELETE") and re.fullmatch(r"/api/v0/(asks|instances)/\d+/", path))
            or (method, path) == ("GET", "/api/v1/instances/")
        ]
        assert fleet_calls, faulted


def test_the_fleet_example_deploys_within_its_budget_and_destroys(
    local_backend: LocalBackend, emulator: Emulator, tmp_path: Path
) -> None:
    project = copy_example("fleet", tmp_path)
    stack = deploy(local_backend, emulator, project)
    stack.up()
    outputs = stack.outputs()
    rows = inventory(emulator)
    assert sorted(outputs["instance_ids"]) == sorted(row["id"] for row in rows) and len(rows) == 4
    assert outputs["ready"] == 4 and outputs["dph_total"] <= 4.0
    assert all(re.fullmatch(r"ssh -p \d+ root@\S+", command) for command in outputs["ssh"])
    assert sorted(row["label"] for row in rows) == [f"trainer-{index}" for index in range(4)]
    stack.destroy()
    assert inventory(emulator) == []


def test_bad_input_fails_preview_naming_the_field_with_no_request_that_writes(
    local_backend: LocalBackend, emulator: Emulator, tmp_path: Path
) -> None:
    stack = fleet_stack(local_backend, emulator, tmp_path, 2)
    program = Path(stack.project_dir) / "__main__.py"
    no_progress = '{"max_unavailable": 0, "max_surge": 0}'
    program.write_text(program.read_text().replace('{"max_unavailable": 1, "max_surge": 2}', no_progress))
    mark = len(emulator.request_log())
    result = stack.preview(check=False)
    assert result.returncode != 0
    assert re.search(r"resource '\w+' has a problem: rollout: max_surge and max_unavailable", result.output)
    assert tracebacks_through_our_code(result.output) == []
    writes = [r for r in emulator.request_log(mark) if r["method"] in {"POST", "PUT", "DELETE", "PATCH"}]
    assert writes == []
