"""Issue 11, point 9, through the real CLI: a workergroup's query goes out as the official client sends
it (its default filters appended), an API that stores it as sent shows no change at the next preview,
and ``cold_workers`` on a workergroup is warned about at preview and never sent."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.e2e.vast_api import VastInventory
from vast_pulumi.emulator import Emulator
from vast_pulumi.emulator.pytest_plugin import FAST_DESTROY_SECONDS
from vast_pulumi.local_pulumi import LocalBackend, Stack

API_KEY = "e2e-workergroup-query-key"
PROGRAM = """
import pulumi
from vast_pulumi import Endpoint, Workergroup

endpoint = Endpoint("api", max_workers=3, cold_workers=1)
workers = Workergroup(
    "workers", endpoint_id=endpoint.id, search_params="gpu_name=RTX_4090 num_gpus=1 rented=any"{extra}
)
pulumi.export("workergroup_id", workers.id)
"""


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    with Emulator(
        destroy_seconds=FAST_DESTROY_SECONDS, api_keys=[API_KEY], seed=5
    ) as emu:  # stores search_params as sent, no defaults
        yield emu


def stack_of(
    local_backend: LocalBackend, emulator: Emulator, make_project: Callable[[str, str], Path], extra: str
) -> Stack:
    return local_backend.stack(
        make_project("workergroup-query", PROGRAM.replace("{extra}", extra)),
        config={"vast:apiUrl": emulator.url},
        secrets={"vast:apiKey": API_KEY},
    )


def test_the_query_carries_the_clients_default_filters_and_preview_then_has_no_changes(
    local_backend: LocalBackend, emulator: Emulator, make_project: Callable[[str, str], Path]
) -> None:
    stack = stack_of(local_backend, emulator, make_project, "")
    stack.up()
    stack.preview("--expect-no-changes")
    (group,) = VastInventory(emulator.url, API_KEY).workergroups()
    assert group["search_query"] == {
        "gpu_name": {"eq": "RTX 4090"},
        "num_gpus": {"eq": "1"},
        "verified": {"eq": True},  # appended, as the official client does
        "rentable": {"eq": True},
    }  # and no rented filter: the query's rented=any dropped it


def test_cold_workers_on_a_workergroup_is_warned_about_at_preview_and_not_sent(
    local_backend: LocalBackend, emulator: Emulator, make_project: Callable[[str, str], Path]
) -> None:
    stack = stack_of(local_backend, emulator, make_project, ", cold_workers=2")
    preview = stack.preview().stdout
    assert "cold_workers has no effect" in preview and "Endpoint" in preview
    stack.up()
    (group,) = VastInventory(emulator.url, API_KEY).workergroups()
    assert group.get("cold_workers") != 2  # the emulator's own default: ours was not sent
    stack.preview("--expect-no-changes")
