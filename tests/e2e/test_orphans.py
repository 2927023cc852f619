"""Issue 11, point 12, through the real CLI: a `pulumi up` killed mid-create leaves a billing instance
that no state records; `vast-pulumi orphans` lists it with its $/hour, and `orphans --destroy --yes`
removes it while the stack's managed instance keeps running."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from tests.e2e.test_resilience import asks_put_count, kill_up_when
from tests.e2e.vast_api import VastInventory
from vast_pulumi.client import VastClient
from vast_pulumi.emulator import Emulator
from vast_pulumi.emulator.pytest_plugin import FAST_DESTROY_SECONDS
from vast_pulumi.local_pulumi import LocalBackend, Stack
from vast_pulumi.settings import ProviderSettings

API_KEY = "e2e-orphans-key"
MANAGED = """
import pulumi
from vast_pulumi import Instance

keeper = Instance("keeper", offer_query="num_gpus=1 reliability>0.9", image="vastai/base-image", disk=16)
pulumi.export("keeper_id", keeper.id)
"""
GROWN = (
    MANAGED
    + """
Instance("second", offer_query="num_gpus=1 reliability>0.9", image="vastai/base-image", disk=16)
"""
)


def orphans(stack: Stack, emulator: Emulator, *args: str) -> subprocess.CompletedProcess[str]:
    """`python -m vast_pulumi orphans <stack> ARGS`, run as a user would in the project directory."""
    env = {**stack.backend.env(), "VAST_API_KEY": API_KEY, "VAST_URL": emulator.url}
    return subprocess.run(
        [sys.executable, "-m", "vast_pulumi", "orphans", stack.name, *args],
        cwd=stack.project_dir,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )


def test_a_killed_ups_instance_is_listed_with_its_price_and_destroyed_while_the_managed_one_survives(
    local_backend: LocalBackend, make_project: Callable[[str, str], Path]
) -> None:
    project = make_project("orphans", MANAGED)
    with Emulator(
        destroy_seconds=FAST_DESTROY_SECONDS, api_keys=[API_KEY], seed=4, boot_seconds=3
    ) as emulator:
        inventory = VastInventory(emulator.url, API_KEY)
        stack = local_backend.stack(
            project, "dev", config={"vast:apiUrl": emulator.url}, secrets={"vast:apiKey": API_KEY}
        )
        stack.up()
        keeper = int(stack.outputs()["keeper_id"])

        (project / "__main__.py").write_text(GROWN)
        rents = asks_put_count(emulator)
        # Killed while the second instance boots: rented, not yet in state.
        kill_up_when(stack, emulator, lambda emu: asks_put_count(emu) > rents)
        (leftover,) = {int(row["id"]) for row in inventory.instances()} - {keeper}
        recorded = {r["id"] for r in stack.resources() if r["type"].endswith(":Instance")}
        assert recorded == {str(keeper)}, "the kill came too late: state has the second instance"
        price = next(row["dph_total"] for row in inventory.instances() if row["id"] == leftover)

        listing = orphans(stack, emulator)
        assert listing.returncode == 0, listing.stderr
        (line,) = [line for line in listing.stdout.splitlines() if f" {leftover} " in line]
        assert line.split()[:3] == ["instance", str(leftover), f"{price:.4f}"]
        assert "second (stack dev)" in line  # the resource it was rented for
        document = json.loads(orphans(stack, emulator, "--json").stdout)
        assert [(o["kind"], o["id"], o["dph_total"]) for o in document["orphans"]] == [
            ("instance", leftover, price)
        ]

        destroyed = orphans(stack, emulator, "--destroy", "--yes")
        assert destroyed.returncode == 0, destroyed.stdout + destroyed.stderr
        assert f"destroyed instance {leftover}" in destroyed.stdout
        assert {int(row["id"]) for row in inventory.instances()} == {keeper}
        survivor = inventory.instance(keeper)
        assert survivor is not None and survivor["actual_status"] == "running"
        assert "No orphans" in orphans(stack, emulator).stdout
        assert API_KEY not in listing.stdout + listing.stderr + destroyed.stdout + destroyed.stderr


VOLUME = """
import pulumi
from vast_pulumi import Volume

data = Volume("data", size=10, offer_query="reliability>0.5")
pulumi.export("volume_id", data.volume_id)
"""


def test_a_volume_left_by_a_stack_removed_with_force_is_listed_and_destroyed(
    local_backend: LocalBackend, make_project: Callable[[str, str], Path]
) -> None:
    project = make_project("forced", VOLUME)
    with Emulator(destroy_seconds=FAST_DESTROY_SECONDS, api_keys=[API_KEY], seed=5) as emulator:
        client = VastClient(ProviderSettings(API_KEY, emulator.url), pacing_scale=0)
        stack = local_backend.stack(
            project, "dev", config={"vast:apiUrl": emulator.url}, secrets={"vast:apiKey": API_KEY}
        )
        stack.up()
        volume = int(stack.outputs()["volume_id"])
        stack.remove()  # `pulumi stack rm --yes --force`: the state is gone, the volume bills on

        env = {**local_backend.env(), "VAST_API_KEY": API_KEY, "VAST_URL": emulator.url}

        def orphans_of_removed(*args: str) -> subprocess.CompletedProcess[str]:
            argv = [sys.executable, "-m", "vast_pulumi", "orphans", "--removed-stack", "forced/dev", *args]
            return subprocess.run(argv, env=env, capture_output=True, text=True, check=False, timeout=600)

        listing = orphans_of_removed("--json")
        assert listing.returncode == 0, listing.stderr
        (orphan,) = json.loads(listing.stdout)["orphans"]
        assert (orphan["kind"], orphan["id"]) == ("volume", volume)
        assert orphan["dph_total"] > 0 and orphan["details"].startswith("name 'data_")
        destroyed = orphans_of_removed("--destroy", "--yes")
        assert destroyed.returncode == 0, destroyed.stdout + destroyed.stderr
        assert f"destroyed volume {volume}" in destroyed.stdout
        assert client.list_volumes() == []
