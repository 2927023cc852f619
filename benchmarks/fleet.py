"""Issue 14: `pulumi up` of a 32-member `Fleet` against a 1-member one (boot 10 s, the engine's
default parallelism), and the list calls of a `pulumi refresh` of the 32-member fleet."""

from __future__ import annotations

from pathlib import Path

from benchmarks.common import API_KEY, INSTANCE_QUERY, Table, api_calls, new_stack, timed, write_project
from vast_pulumi.emulator import Emulator
from vast_pulumi.local_pulumi import LocalBackend

BOOT_SECONDS = 10
LATENCY_MS = 50
SIZES = (1, 32)
LIST = ("GET", "/api/v1/instances/")


def fleet_resource_program(count: int) -> str:
    return (
        "from vast_pulumi import Fleet\n\n"
        f'Fleet("gpus", count={count}, offer_query="{INSTANCE_QUERY}", image="vastai/base-image", disk=16)\n'
    )


def measure(root: Path, count: int) -> tuple[float, int, int]:
    """(seconds of `pulumi up`, list calls of the refresh after it, all API calls of that refresh)."""
    with Emulator(
        api_keys=[API_KEY], seed=count, boot_seconds=BOOT_SECONDS, latency_ms=LATENCY_MS, workers=False
    ) as emulator:
        backend = LocalBackend(root / f"backend-{count}")
        project = write_project(root / f"fleet-{count}", "fleet", fleet_resource_program(count))
        stack = new_stack(backend, emulator, project)
        with timed() as elapsed:
            stack.up()  # the engine's default parallelism: no --parallel
        mark = len(emulator.request_log())
        stack.refresh()
        calls = api_calls(emulator, mark)
        lists = sum(1 for call in calls if (call["method"], call.get("route")) == LIST)
        stack.destroy()
    return elapsed[0], lists, len(calls)


def run(root: Path) -> Table:
    table = Table(
        f"Fleet resource (boot {BOOT_SECONDS} s, latency {LATENCY_MS} ms, default parallelism)",
        ["members", "pulumi up (s)", "refresh: list calls", "refresh: all API calls"],
    )
    results = {count: measure(root, count) for count in SIZES}
    for count, (seconds, lists, calls) in results.items():
        table.add(count, f"{seconds:.1f}", lists, calls)
    flat = results[32][0] / results[1][0]
    lists = results[32][1]
    table.verdicts += [
        f"T(32)/T(1) = {flat:.2f} (target <= 1.3: {'met' if flat <= 1.3 else 'MISSED'})",
        f"refresh of 32 members: {lists} list calls (target <= 2: {'met' if lists <= 2 else 'MISSED'})",
    ]
    return table
