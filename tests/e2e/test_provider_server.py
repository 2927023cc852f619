"""On the real SDK provider server (``python -m pulumi.dynamic``, started by the real CLI), more than four
provider calls run at once: creates, and deletes too. The server's own pool has four threads
(``vast_pulumi._provider_server`` widens it); an emulator hold on the rent route, then on the destroy
route, parks every call that reaches the API, so the count of parked calls is the count running at
once. With four threads it stops at four (and the guard below fails the test)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

from vast_pulumi.emulator import Emulator
from vast_pulumi.emulator.pytest_plugin import FAST_DESTROY_SECONDS
from vast_pulumi.local_pulumi import CommandResult, LocalBackend, Stack

API_KEY = "e2e-server-key"
MACHINES = 8  # twice the server's own pool
PROGRAM = f"""
from vast_pulumi import Instance

for index in range({MACHINES}):
    Instance(f"box-{{index}}", offer_query="num_gpus=1 reliability>0.9", image="vastai/base-image", disk=16)
"""
RENT = ("PUT", "/api/v0/asks/{id}/")
DESTROY = ("DELETE", "/api/v0/instances/{id}/")
GUARD_SECONDS = 60  # only ends a run that would otherwise hang; nothing is timed


def parked(emulator: Emulator) -> int:
    return sum(int(hold["parked"]) for hold in emulator.holds())


def most_at_once(stack: Stack, emulator: Emulator, command: str, route: tuple[str, str]) -> int:
    """Run ``pulumi COMMAND`` with ``route`` held; the number of its calls parked there at once (all
    of them, or as many as ran before nothing more arrived)."""
    emulator.hold(*route)
    done: list[CommandResult] = []
    run = threading.Thread(
        target=lambda: done.append(stack.run(command, "--yes", "--skip-preview", "--parallel", "64"))
    )
    run.start()
    guard = time.monotonic() + GUARD_SECONDS
    while parked(emulator) < MACHINES and time.monotonic() < guard:
        time.sleep(0.02)
    at_once = parked(emulator)
    emulator.release()
    run.join()
    assert done and done[0].returncode == 0
    return at_once


def test_more_than_four_creates_and_deletes_run_at_once_on_the_sdk_server(
    local_backend: LocalBackend, make_project: Callable[[str, str], Path]
) -> None:
    project = make_project("server", PROGRAM)
    # Pacing off: the client's learning pacer sends a route's first calls one at a time, which would
    # hide the server's own parallelism (a limited route is not what is tested here).
    local_backend.extra_env["VAST_PULUMI_PACING_SCALE"] = "0"
    with Emulator(
        destroy_seconds=FAST_DESTROY_SECONDS, api_keys=[API_KEY], seed=6, boot_seconds=0.5
    ) as emulator:
        stack = local_backend.stack(
            project, "dev", config={"vast:apiUrl": emulator.url}, secrets={"vast:apiKey": API_KEY}
        )
        assert most_at_once(stack, emulator, "up", RENT) == MACHINES
        assert len(emulator.inventory()[0]["instances"]) == MACHINES
        # A destroy's first calls are all deletes, queued before the first one configures the provider.
        assert most_at_once(stack, emulator, "destroy", DESTROY) == MACHINES
        assert emulator.inventory()[0]["instances"] == []
