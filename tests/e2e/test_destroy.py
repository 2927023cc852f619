"""Issue 11, point 5, through the real CLI: nothing bills after destroy.

The emulator answers as the real service does: the stack's workergroup recruits billing worker
instances (the endpoint keeps cold workers), deleting a group leaves its workers running, and a
destroyed instance stays listed for a while (asynchronous destroy). ``pulumi destroy`` must return
only when the API lists nothing of the stack's any more, workers included; a worker that cannot be
destroyed fails the destroy, naming it, and the stack keeps the resource.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import requests

from tests.e2e.vast_api import VastInventory
from vast_pulumi.emulator import Emulator
from vast_pulumi.emulator.pytest_plugin import FAST_DESTROY_SECONDS
from vast_pulumi.local_pulumi import LocalBackend, Stack

API_KEY = "e2e-destroy-key-5e7f"
ENDPOINT_TYPE = "pulumi-python:dynamic/vast:Endpoint"
PROGRAM = """
from vast_pulumi import Endpoint, Instance, Template, Workergroup

endpoint = Endpoint("ep", max_workers=3, cold_workers=2)
worker = Template("worker", image="vastai/base-image", extra_filters="gpu_name=RTX_4090 num_gpus=1")
Workergroup("wg", endpoint_id=endpoint.id, template_hash=worker.hash_id)
Instance("box", offer_query="num_gpus=1", image="vastai/base-image", disk=16)
"""
NOTHING: dict[str, set[int]] = {"endpoints": set(), "workergroups": set(), "instances": set()}


def deployed(backend: LocalBackend, project: Path, url: str) -> Stack:
    return backend.stack(project, "dev", config={"vast:apiUrl": url}, secrets={"vast:apiKey": API_KEY})


def test_destroy_returns_only_when_the_api_lists_nothing_not_even_the_workers(
    local_backend: LocalBackend, make_project: Any
) -> None:
    with Emulator(api_keys=[API_KEY], seed=21, boot_seconds=0.5) as emulator:
        inventory = VastInventory(emulator.url, API_KEY)
        stack = deployed(local_backend, make_project("destroy", PROGRAM), emulator.url)
        stack.up()
        assert len(inventory.await_workers(2)) == 2  # recruited by the stack's group, billing
        assert len(inventory.instances()) == 3

        stack.destroy()

        assert inventory.ids() == NOTHING  # not "being destroyed": gone
        assert stack.resources() == [] or all(r["type"].startswith("pulumi:") for r in stack.resources())


def test_a_worker_that_cannot_be_destroyed_fails_the_destroy_naming_it_and_the_stack_keeps_the_endpoint(
    local_backend: LocalBackend, make_project: Any
) -> None:
    with Emulator(
        destroy_seconds=FAST_DESTROY_SECONDS, api_keys=[API_KEY], seed=22, boot_seconds=0.5
    ) as emulator:
        inventory = VastInventory(emulator.url, API_KEY)
        stack = deployed(local_backend, make_project("stuck", PROGRAM), emulator.url)
        stack.up()
        endpoint_id = int(next(r["id"] for r in stack.resources() if r["type"] == ENDPOINT_TYPE))
        # A colleague adds a workergroup to the stack's endpoint in the console; one of its workers
        # runs on a host that then stops answering, so the API cannot destroy it.
        auth = {"Authorization": f"Bearer {API_KEY}"}
        theirs_template = requests.post(
            f"{emulator.url}/api/v0/template/",
            json={"name": "theirs", "image": "vastai/base-image"},
            headers=auth,
            timeout=10,
        )
        requests.post(
            f"{emulator.url}/api/v0/workergroups/",
            json={
                "endpoint_id": endpoint_id,
                "template_hash": theirs_template.json()["template"]["hash_id"],
                "search_params": "gpu_name=RTX_4090 num_gpus=1",
            },
            headers=auth,
            timeout=10,
        ).raise_for_status()
        emulator.set_endpoint_load(endpoint_id, 3.0)  # traffic: the endpoint scales to 3, in their group
        (theirs,) = {int(row["id"]) for row in inventory.workergroups()} - {
            int(r["id"]) for r in stack.resources() if r["type"].endswith(":Workergroup")
        }
        (stuck,) = inventory.await_workers(1, group_id=theirs)
        requests.post(
            f"{emulator.url}/_emulator/instances/{stuck}/status/",
            json={"actual_status": "offline"},
            timeout=10,
        ).raise_for_status()

        result = stack.destroy(check=False)

        assert result.returncode != 0
        assert f"worker instance {stuck} (the API could not destroy it)" in result.output
        assert [r["id"] for r in stack.resources() if r["type"] == ENDPOINT_TYPE] == [str(endpoint_id)]
        assert {int(row["id"]) for row in inventory.instances()} == {stuck}  # the rest is gone


BOX = """
import pulumi
from vast_pulumi import Instance

label = pulumi.Config().get("label") or "box"
Instance("box", offer_query="num_gpus=1", image="vastai/base-image", disk=16, label=label)
"""


@pytest.mark.parametrize("profile", ["default", "pessimistic"])
def test_an_instance_destroyed_by_hand_and_refreshed_while_still_listed_is_dropped_and_up_rents_another(
    local_backend: LocalBackend, make_project: Any, profile: str
) -> None:
    """Issue 21, "Why", last bullet: destroyed out of band, then refreshed while the API still lists
    it as being destroyed (both readings of its single GET: the dying row, or nothing at once). The
    refresh drops it; the next up rents a new one instead of updating the dead one (404)."""
    with Emulator(
        api_keys=[API_KEY], seed=23, boot_seconds=0.5, destroy_seconds=600.0, profile=profile
    ) as emu:
        inventory = VastInventory(emu.url, API_KEY)
        stack = deployed(local_backend, make_project("by-hand", BOX), emu.url)
        stack.up()
        (old,) = inventory.ids()["instances"]
        requests.delete(
            f"{emu.url}/api/v0/instances/{old}/", headers={"Authorization": f"Bearer {API_KEY}"}, timeout=10
        ).raise_for_status()

        stack.refresh()

        assert old in inventory.ids()["instances"]  # still listed, being destroyed for 10 minutes
        assert [r for r in stack.resources() if r["type"].endswith(":Instance")] == []
        steps = {(step["op"], str(step["urn"]).rsplit("::", 1)[-1]) for step in stack.up_steps()}
        assert ("create", "box") in steps
        (new,) = [r["id"] for r in stack.resources() if r["type"].endswith(":Instance")]
        assert int(new) != old and int(new) in inventory.ids()["instances"]

        # Destroyed by hand again, and no refresh: a change that would update it in place (PUT, 404)
        # plans a replacement instead, and the up rents another. The replacement's delete waits until
        # the old instance is no longer listed: destroys end within seconds from here on.
        emu.backend.destroy_seconds = 2.0
        requests.delete(
            f"{emu.url}/api/v0/instances/{new}/", headers={"Authorization": f"Bearer {API_KEY}"}, timeout=10
        ).raise_for_status()
        stack.set_config("by-hand:label", "renamed")
        steps = {(step["op"], str(step["urn"]).rsplit("::", 1)[-1]) for step in stack.up_steps()}
        assert ("replace", "box") in steps
        (third,) = [r["id"] for r in stack.resources() if r["type"].endswith(":Instance")]
        row = inventory.instance(third)
        assert int(third) not in (old, int(new)) and row is not None and row["label"] == "renamed"
