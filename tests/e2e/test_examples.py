"""Issue 4 acceptance: the multi-stack example across two stacks in one backend."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.vast_api import VastInventory
from vast_pulumi.emulator import Emulator
from vast_pulumi.emulator.pytest_plugin import FAST_DESTROY_SECONDS
from vast_pulumi.local_pulumi import LocalBackend

API_KEY = "e2e-examples-key"
MULTI_STACK = Path(__file__).resolve().parents[2] / "examples" / "multi-stack"


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    with Emulator(destroy_seconds=FAST_DESTROY_SECONDS, api_keys=[API_KEY], boot_seconds=1, seed=5) as emu:
        yield emu


def test_workers_stack_puts_a_workergroup_on_the_platform_stacks_endpoint(
    local_backend: LocalBackend, emulator: Emulator, tmp_path: Path
) -> None:
    projects = tmp_path / "multi-stack"
    shutil.copytree(MULTI_STACK, projects)
    settings = {"config": {"vast:apiUrl": emulator.url}, "secrets": {"vast:apiKey": API_KEY}}
    platform = local_backend.stack(projects / "platform", "prod", **settings)
    workers = local_backend.stack(projects / "workers", "prod", **settings)

    platform.up()
    workers.up()

    platform_out, workers_out = platform.outputs(), workers.outputs()
    inventory = VastInventory(emulator.url, API_KEY)
    (group,) = inventory.workergroups()
    assert int(group["id"]) == int(workers_out["workergroup_id"])
    assert int(group["endpoint_id"]) == int(platform_out["endpoint_id"]) == int(workers_out["endpoint_id"])
    assert group["endpoint_name"] == platform_out["endpoint_name"]

    workers.destroy()
    platform.destroy()
    assert inventory.ids() == {"endpoints": set(), "workergroups": set(), "instances": set()}
