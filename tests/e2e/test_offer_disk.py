"""Issue 11, point 8: an instance with a large disk rents the cheapest offer *for that disk* (storage is
in the price) among machines with room for it, through the real CLI."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import requests

from tests.e2e.vast_api import VastInventory
from vast_pulumi.emulator import Emulator
from vast_pulumi.emulator.pytest_plugin import FAST_DESTROY_SECONDS
from vast_pulumi.local_pulumi import LocalBackend

API_KEY = "e2e-offer-disk-key"
DISK = 1200  # GB: most machines of the emulated market have less
QUERY = {"gpu_name": {"eq": "RTX 4090"}, "num_gpus": {"eq": "1"}, "verified": {"eq": True}}
PROGRAM = f"""
import pulumi
from vast_pulumi import Instance

box = Instance("big-disk", offer_query="gpu_name=RTX_4090 num_gpus=1", image="vastai/base-image", disk={DISK})
pulumi.export("instance_id", box.id)
pulumi.export("offer_id", box.offer_id)
pulumi.export("dph_total", box.dph_total)
"""


def market(emulator: Emulator, storage: float) -> list[dict[str, Any]]:
    """Every matching offer, priced for ``storage`` GB, read through the API itself."""
    response = requests.post(
        f"{emulator.url}/api/v0/bundles/",
        json={**QUERY, "rented": {"eq": False}, "allocated_storage": storage, "limit": 1000},
        headers={"Authorization": f"Bearer {API_KEY}"},
        timeout=10,
    )
    response.raise_for_status()
    offers: list[dict[str, Any]] = response.json()["offers"]
    return offers


def test_a_large_disk_rents_the_cheapest_offer_for_that_disk_with_room_for_it(
    local_backend: LocalBackend, make_project: Callable[[str, str], Path]
) -> None:
    # Seed 3: the cheapest RTX 4090 priced for a small disk has only 1000 GB.
    with Emulator(
        destroy_seconds=FAST_DESTROY_SECONDS, api_keys=[API_KEY], seed=3, boot_seconds=1
    ) as emulator:
        with_room = [offer for offer in market(emulator, DISK) if offer["disk_space"] >= DISK]
        best = min(with_room, key=lambda offer: offer["dph_total"])
        cheapest_small = min(market(emulator, 8), key=lambda offer: offer["dph_total"])
        assert cheapest_small["disk_space"] < DISK, "the market no longer tells the two searches apart"

        stack = local_backend.stack(
            make_project("offer-disk", PROGRAM),
            config={"vast:apiUrl": emulator.url},
            secrets={"vast:apiKey": API_KEY},
        )
        stack.up()
        outputs = stack.outputs()
        assert int(outputs["offer_id"]) == best["id"]
        instance = VastInventory(emulator.url, API_KEY).instance(outputs["instance_id"])
        assert instance is not None and instance["machine_id"] == best["machine_id"]
        assert outputs["dph_total"] == instance["dph_total"]  # what it bills, storage included
