"""Issue 20: a running machine is never lost to a replacement that cannot be created, and the rows
say what a wait is waiting for. One stack, four CLI runs:

1. ``up``: the instance boots; its row shows its status while it loads ("status 'loading'").
2. ``offer_query`` gets a typo (``gpu_name=RTX_4090`` -> ``RTX4090``): ``preview`` fails naming the
   query and the GPU Vast.ai knows, and so does ``up``; the running instance is never deleted, and
   state still records it. (On the old code the ``up`` destroyed it first, then found no offer, and
   left a pending replacement.)
3. A real change with ``create_before_delete``: the planned offer (id, GPU, $/h) is a warning on the
   resource, the new instance is rented before the old one is deleted, and the delete's row says
   which instance it waits to see unlisted.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from tests.e2e.conftest import ProjectFactory
from tests.e2e.vast_api import VastInventory
from vast_pulumi.emulator import Emulator
from vast_pulumi.local_pulumi import LocalBackend

API_KEY = "e2e-replacement-key"
PROGRAM = """
import pulumi
from vast_pulumi import Instance

config = pulumi.Config()
box = Instance(
    "box",
    offer_query=config.require("query"),
    image="pytorch/pytorch",
    disk=float(config.get("disk") or 10),
    create_before_delete=config.get_bool("overlap") or False,
)
pulumi.export("id", box.id)
"""


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    # A boot and an unlisting long enough to be seen on the row (the list is polled every 1-1.5 s).
    with Emulator(api_keys=[API_KEY], boot_seconds=3, destroy_seconds=2, seed=1) as emu:
        yield emu


def instance_row(emulator: Emulator, instance_id: str) -> dict[str, Any] | None:
    return VastInventory(emulator.url, API_KEY).instance(instance_id)


def writes(emulator: Emulator, since: int = 0) -> list[tuple[str, str]]:
    return [
        (e["method"], e["path"]) for e in emulator.request_log()[since:] if e["method"] in {"PUT", "DELETE"}
    ]


def test_a_replacement_that_cannot_be_rented_leaves_the_running_instance(
    local_backend: LocalBackend, emulator: Emulator, make_project: ProjectFactory
) -> None:
    stack = local_backend.stack(
        make_project("replacement", PROGRAM),
        config={"vast:apiUrl": emulator.url, "replacement:query": "gpu_name=RTX_4090"},
        secrets={"vast:apiKey": API_KEY},
    )
    booted = stack.up().stdout
    first = stack.outputs()["id"]
    # The row's status while it boots (the non-interactive display prints each change of a row).
    assert re.search(rf"Instance box creating \(\d+s\) instance {first}: status 'loading'", booted), booted

    stack.set_config("replacement:query", "gpu_name=RTX4090")
    mark = len(emulator.request_log())
    refused = [stack.preview(check=False), stack.up(check=False)]
    said = (
        "no offer matches offer_query 'gpu_name=RTX4090' with 10 GB of disk right now; gpu_name 'RTX4090' "
        "is no GPU Vast.ai knows; did you mean 'RTX_4090'? (so the replacement could not be rented: nothing "
        f"was changed, instance {first} keeps running)"
    )
    for run in refused:
        assert run.returncode != 0
        assert f"pulumi-python:dynamic/vast:Instance (box):\n    error: {said}" in run.stdout, run.output
    assert writes(emulator, mark) == []  # nothing destroyed, nothing rented
    row = instance_row(emulator, first)
    assert row is not None and row["actual_status"] == "running"
    (recorded,) = [r for r in stack.resources() if r["type"].endswith("vast:Instance")]
    assert recorded["id"] == first and not recorded.get("delete")

    stack.set_config("replacement:query", "gpu_name=RTX_4090")
    stack.set_config("replacement:disk", "32")
    stack.set_config("replacement:overlap", "true")
    mark = len(emulator.request_log())
    replaced = stack.up().stdout
    second = stack.outputs()["id"]
    assert second != first
    assert f"warning: the replacement of instance {first} would rent offer " in replaced
    assert "x RTX 4090, $" in replaced
    rent, destroy = writes(emulator, mark)
    assert rent[0] == "PUT" and rent[1].startswith("/api/v0/asks/")  # the new one first
    assert destroy == ("DELETE", f"/api/v0/instances/{first}/")
    assert f"destroyed; waiting until the API no longer lists instance {first}" in replaced
