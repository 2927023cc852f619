"""A stack larger than the quickstart, shared by the resilience tests: the quickstart's endpoint,
workergroup and instance plus a fleet of instances (a loop of ``Instance``s, and optionally a
``Fleet`` resource); and the check that what Pulumi believes it
manages is exactly what exists on the (emulated) Vast.ai account."""

from __future__ import annotations

import textwrap
from pathlib import Path

import requests

from tests.e2e.vast_api import VastInventory
from vast_pulumi.emulator import Emulator
from vast_pulumi.local_pulumi import Stack

QUICKSTART = Path(__file__).resolve().parents[2] / "examples" / "quickstart" / "__main__.py"
KINDS = {
    "pulumi-python:dynamic/vast:Endpoint": "endpoints",
    "pulumi-python:dynamic/vast:Workergroup": "workergroups",
    "pulumi-python:dynamic/vast:Instance": "instances",
    # The same resources through the provider plugin.
    "vast:index:Endpoint": "endpoints",
    "vast:index:Workergroup": "workergroups",
    "vast:index:Instance": "instances",
}
FLEET_TYPE = "pulumi-python:dynamic/vast:Fleet"


def write_fleet_project(directory: Path, name: str, fleet_size: int, fleet_members: int = 0) -> Path:
    """The quickstart plus ``fleet_size`` instances, and a ``Fleet`` of ``fleet_members`` if not 0."""
    directory.mkdir(parents=True)
    (directory / "Pulumi.yaml").write_text(f"name: {name}\nruntime: python\n")
    fleet = f"""
        for index in range({fleet_size}):
            Instance(f"fleet-{{index}}", offer_query="num_gpus=1 reliability>0.9", image="vastai/base-image",
                     disk=16)
    """
    if fleet_members:
        fleet += f"""
        from vast_pulumi import Fleet

        Fleet("gpus", count={fleet_members}, offer_query="num_gpus=1 reliability>0.9",
              image="vastai/base-image", disk=16)
    """
    (directory / "__main__.py").write_text(QUICKSTART.read_text() + textwrap.dedent(fleet))
    return directory


def managed_ids(stack: Stack) -> dict[str, set[int]]:
    """The Vast ids of the resources in the stack's state, by kind (a Fleet's members as instances)."""
    ids: dict[str, set[int]] = {kind: set() for kind in KINDS.values()}
    for resource in stack.resources():
        kind = KINDS.get(resource["type"])
        if kind:
            ids[kind].add(int(resource["id"]))
        if resource["type"] == FLEET_TYPE:
            ids["instances"] |= {int(i) for i in resource.get("outputs", {}).get("instance_ids") or []}
    return ids


def set_faults(emulator: Emulator, spec: str) -> None:
    requests.put(f"{emulator.url}/_emulator/faults", json={"spec": spec}, timeout=10).raise_for_status()


def live_ids(emulator: Emulator, api_key: str) -> dict[str, set[int]]:
    """What exists on the account, read through the API with faults switched off, but the workers a
    listed workergroup recruited (the group's business: billing, yet in no stack's state). Workers of
    no listed group count as instances: once their group is gone, they are leftovers. The groups'
    workers are the autoscaler's lists, whether or not instance rows name their group (reading
    ``worker_ties``), and whenever a recruit lands (``worker_recruit``)."""
    set_faults(emulator, "")
    inventory = VastInventory(emulator.url, api_key)
    return {
        "endpoints": {int(r["id"]) for r in inventory.endpoints()},
        "workergroups": {int(r["id"]) for r in inventory.workergroups()},
        "instances": inventory.rented()[0],
    }
