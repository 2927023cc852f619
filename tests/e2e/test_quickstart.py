"""Issue 4 acceptance: the quickstart stack's lifecycle with the real CLI against the emulator."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.e2e.vast_api import VastInventory
from vast_pulumi.emulator import Emulator
from vast_pulumi.emulator.pytest_plugin import FAST_DESTROY_SECONDS
from vast_pulumi.local_pulumi import LocalBackend, Stack

API_KEY = "e2e-quickstart-key"
QUICKSTART = Path(__file__).resolve().parents[2] / "examples" / "quickstart"


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    with Emulator(destroy_seconds=FAST_DESTROY_SECONDS, api_keys=[API_KEY], boot_seconds=1, seed=11) as emu:
        yield emu


@pytest.fixture
def inventory(emulator: Emulator) -> VastInventory:
    return VastInventory(emulator.url, API_KEY)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A copy of the quickstart program the test may edit."""
    target = tmp_path / "quickstart"
    shutil.copytree(QUICKSTART, target, ignore=shutil.ignore_patterns(".venv"))
    (target / "Pulumi.yaml").write_text("name: vast-quickstart\nruntime: python\n")
    return target


@pytest.fixture
def stack(local_backend: LocalBackend, emulator: Emulator, project: Path) -> Stack:
    return local_backend.stack(
        project, "dev", config={"vast:apiUrl": emulator.url}, secrets={"vast:apiKey": API_KEY}
    )


def edit(project: Path, old: str, new: str) -> None:
    program = project / "__main__.py"
    source = program.read_text()
    assert source.count(old) == 1, f"expected exactly one {old!r} in the quickstart"
    program.write_text(source.replace(old, new))


def ops(steps: list[dict[str, object]]) -> dict[str, list[str]]:
    """op -> resource names, without the stack itself and unchanged resources."""
    by_op: dict[str, list[str]] = {}
    for step in steps:
        urn = str(step["urn"])
        if step["op"] != "same" and "pulumi:pulumi:Stack" not in urn:
            by_op.setdefault(str(step["op"]), []).append(urn.rsplit("::", 1)[-1])
    return by_op


def test_up_creates_everything_preview_then_has_no_changes_and_destroy_leaves_nothing(
    stack: Stack, inventory: VastInventory
) -> None:
    stack.up()
    outputs = stack.outputs()
    # The endpoint keeps a cold worker: the workergroup recruits it, billing, beside the stack's instance.
    (worker,) = inventory.await_workers(1)
    ids = inventory.ids()
    assert ids["endpoints"] == {int(outputs["endpoint_id"])}
    assert ids["workergroups"] == {int(outputs["workergroup_id"])}
    assert ids["instances"] == {int(outputs["instance_id"]), worker}
    assert inventory.rented() == ({int(outputs["instance_id"])}, {worker})
    instance = inventory.instance(outputs["instance_id"])
    assert instance is not None and instance["actual_status"] == "running"
    # The official client's rule: the direct 22/tcp mapping on the public address, when there is one.
    direct_port = instance["ports"]["22/tcp"][0]["HostPort"]
    assert outputs["ssh"] == f"ssh -p {direct_port} root@{instance['public_ipaddr']}"
    assert outputs["gpu"] == "1x RTX 4090"
    stack.preview("--expect-no-changes")
    stack.destroy()
    assert inventory.ids() == {"endpoints": set(), "workergroups": set(), "instances": set()}


def test_changing_endpoint_max_workers_is_exactly_one_in_place_update(
    stack: Stack, project: Path, inventory: VastInventory
) -> None:
    stack.up()
    endpoint_id = int(stack.outputs()["endpoint_id"])
    edit(project, "max_workers=4", "max_workers=7")
    assert ops(stack.up_steps()) == {"update": ["inference"]}
    (endpoint,) = inventory.endpoints()
    assert (int(endpoint["id"]), endpoint["max_workers"]) == (endpoint_id, 7)


def test_changing_instance_image_is_exactly_one_replace(
    stack: Stack, project: Path, inventory: VastInventory
) -> None:
    stack.up()
    old_id = int(stack.outputs()["instance_id"])
    edit(
        project,
        'image="pytorch/pytorch:2.5.1-cuda12.4-cudnn9-runtime"',
        'image="pytorch/pytorch:2.6.0-cuda12.6-cudnn9-runtime"',
    )
    done = ops(stack.up_steps())
    assert done.get("replace") == ["dev-box"]
    assert "update" not in done
    new_id = int(stack.outputs()["instance_id"])
    assert new_id != old_id
    assert inventory.rented()[0] == {new_id}


def test_instance_destroyed_out_of_band_leaves_state_on_refresh_and_up_recreates_it(
    stack: Stack, emulator: Emulator, inventory: VastInventory
) -> None:
    stack.up()
    old_id = int(stack.outputs()["instance_id"])
    requests.post(f"{emulator.url}/_emulator/instances/{old_id}/destroy", timeout=10).raise_for_status()
    stack.refresh()
    instance_urns = [
        r["urn"] for r in stack.resources() if r["type"] == "pulumi-python:dynamic/vast:Instance"
    ]
    assert instance_urns == []
    stack.up()
    new_id = int(stack.outputs()["instance_id"])
    assert new_id != old_id
    assert inventory.rented()[0] == {new_id}
