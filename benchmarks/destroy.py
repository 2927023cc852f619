"""`pulumi destroy --parallel 64` of 1 and of 16 instances, on the same emulator settings: each
destroyed instance stays listed for the real API's ~5 s, and every delete waits until it is unlisted.
Target: destroying 16 costs about what destroying 1 does (the provider server runs every delete at
once, not four at a time: ``vast_pulumi._provider_server``).
"""

from __future__ import annotations

from pathlib import Path

from benchmarks.common import API_KEY, Table, fleet_program, new_stack, ratio, timed, write_project
from vast_pulumi.emulator import Emulator
from vast_pulumi.emulator.lifecycle import DESTROY_SECONDS
from vast_pulumi.local_pulumi import LocalBackend

BOOT_SECONDS = 1
SIZES = (1, 16)
TARGET_RATIO = 1.5  # 16 within 1.5x of 1: one round of deletes, not four


def destroy_seconds(root: Path, count: int) -> float:
    with Emulator(
        api_keys=[API_KEY], seed=count, boot_seconds=BOOT_SECONDS, destroy_seconds=DESTROY_SECONDS
    ) as emulator:
        backend = LocalBackend(root / f"backend-{count}", extra_env={"VAST_PULUMI_PACING_SCALE": "0"})
        project = write_project(root / f"destroy-{count}", "destroy", fleet_program(count))
        stack = new_stack(backend, emulator, project)
        stack.up("--parallel", "64")
        with timed() as elapsed:
            stack.destroy("--parallel", "64")
        assert emulator.inventory()[0]["instances"] == []
    return elapsed[0]


def run(root: Path) -> Table:
    table = Table(
        f"Destroy (each instance listed {DESTROY_SECONDS:g} s after its DELETE; --parallel 64)",
        ["N", "pulumi destroy (s)"],
    )
    seconds = {count: destroy_seconds(root, count) for count in SIZES}
    for count in SIZES:
        table.add(count, f"{seconds[count]:.1f}")
    met = seconds[16] <= TARGET_RATIO * seconds[1]
    verdict = "met" if met else "NOT met"
    measured = ratio(seconds[16], seconds[1])
    table.verdicts.append(
        f"destroy of 16 / destroy of 1 = {measured} (target <= {TARGET_RATIO:g}): {verdict}"
    )
    return table
