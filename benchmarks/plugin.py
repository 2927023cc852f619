"""Issue 25: `pulumi up` of 1 and 16 instances through the provider plugin (a YAML program) beside the
same stack through the dynamic providers (a Python program), on the same emulator settings, one run.
"""

from __future__ import annotations

import os
from pathlib import Path

from benchmarks.common import API_KEY, INSTANCE_QUERY, Table, fleet_program, new_stack, timed, write_project
from vast_pulumi.emulator import Emulator
from vast_pulumi.local_pulumi import LocalBackend

BOOT_SECONDS = 10
LATENCY_MS = 50
SIZES = (1, 16)


def yaml_program(count: int) -> str:
    """The same instances as :func:`fleet_program`, in Pulumi YAML through ``pulumi-resource-vast``."""
    body = "".join(
        f"  gpu-{index}:\n    type: vast:index:Instance\n    properties:\n"
        f'      offerQuery: "{INSTANCE_QUERY}"\n      image: vastai/base-image\n      disk: 16\n'
        for index in range(count)
    )
    return f"name: plugin-bench\nruntime: yaml\nresources:\n{body}"


def up_seconds(root: Path, count: int, face: str) -> float:
    with Emulator(
        api_keys=[API_KEY], seed=count, boot_seconds=BOOT_SECONDS, latency_ms=LATENCY_MS
    ) as emulator:
        backend = LocalBackend(root / f"backend-{face}-{count}")
        directory = root / f"{face}-{count}"
        if face == "plugin":
            directory.mkdir(parents=True)
            (directory / "Pulumi.yaml").write_text(yaml_program(count))
        else:
            write_project(directory, "dynamic-bench", fleet_program(count))
        stack = new_stack(backend, emulator, directory)
        with timed() as elapsed:
            stack.up("--parallel", "64")
        stack.destroy("--parallel", "64")
    return elapsed[0]


def run(root: Path) -> Table:
    table = Table(
        f"Plugin vs dynamic providers, pulumi up --parallel 64 (boot {BOOT_SECONDS} s, "
        f"latency {LATENCY_MS} ms)",
        ["N", "dynamic providers, Python (s)", "provider plugin, YAML (s)"],
    )
    for count in SIZES:
        dynamic = up_seconds(root, count, "dynamic")
        plugin = up_seconds(root, count, "plugin")
        table.add(count, f"{dynamic:.1f}", f"{plugin:.1f}")
    # Both faces run the same providers; what differs is the language host (Python program and the
    # dynamic-provider server vs YAML and the plugin). A shared machine's load shows in both columns.
    table.verdicts.append(f"load average at the end: {os.getloadavg()[0]:.2f} (1 min)")
    return table
