"""Target 4, overhead: import cost of the provider modules, the provider blob in state, and a
no-change preview of 50 resources against 50 trivial no-op dynamic resources."""

from __future__ import annotations

import base64
import statistics
import subprocess
import sys
from pathlib import Path

from benchmarks.common import API_KEY, REPO_ROOT, Table, new_stack, timed, write_project
from vast_pulumi.emulator import Emulator
from vast_pulumi.local_pulumi import LocalBackend

RESOURCES = 50
RUNS = 5
IMPORT_PROBE = (
    "import time, pulumi.dynamic; t = time.perf_counter(); "
    "import vast_pulumi.endpoint, vast_pulumi.workergroup, vast_pulumi.instance; "
    "print(time.perf_counter() - t)"
)
VAST_PROGRAM = (
    "from vast_pulumi import Endpoint\n\n"
    f"for index in range({RESOURCES}):\n"
    '    Endpoint(f"ep-{index}", max_workers=2)\n'
)
NOOP_PROGRAM = (
    f'from benchmarks.noop import Noop\n\nfor index in range({RESOURCES}):\n    Noop(f"noop-{{index}}")\n'
)


def import_seconds() -> float:
    """Median wall time of importing the provider modules in a fresh interpreter, with the Pulumi
    SDK already loaded (as it is in the provider server)."""
    runs = [
        float(
            subprocess.run(
                [sys.executable, "-c", IMPORT_PROBE], capture_output=True, text=True, check=True
            ).stdout
        )
        for _ in range(RUNS)
    ]
    return statistics.median(runs)


def provider_blob_sizes(stack_export: dict[str, object]) -> list[int]:
    resources = stack_export["deployment"]["resources"]  # type: ignore[index]
    return [
        len(base64.b64decode(r["outputs"]["__provider"]))
        for r in resources
        if "__provider" in r.get("outputs", {})
    ]


def run(root: Path) -> Table:
    table = Table("Overhead", ["measure", "value", "target", "verdict"])
    seconds = import_seconds()
    table.add(
        "import vast_pulumi provider modules (median of 5)",
        f"{seconds * 1000:.0f} ms",
        "<= 200 ms",
        "met" if seconds <= 0.2 else "MISSED",
    )

    backend = LocalBackend(root / "backend", extra_env={"PYTHONPATH": str(REPO_ROOT)})
    with Emulator(api_keys=[API_KEY], seed=5) as emulator:
        vast = new_stack(backend, emulator, write_project(root / "vast50", "vast50", VAST_PROGRAM))
        noop = new_stack(backend, emulator, write_project(root / "noop50", "noop50", NOOP_PROGRAM))
        vast.up("--parallel", "64")
        noop.up("--parallel", "64")
        sizes = provider_blob_sizes(vast.export(show_secrets=True))
        table.add(
            "provider blob in state (largest)",
            f"{max(sizes)} bytes",
            "< 1024 bytes",
            "met" if max(sizes) < 1024 else "MISSED",
        )
        vast_times, noop_times = [], []
        for _ in range(3):  # interleaved, so drift on a noisy machine hits both alike
            with timed() as t:
                vast.preview("--expect-no-changes")
            vast_times.append(t[0])
            with timed() as t:
                noop.preview("--expect-no-changes")
            noop_times.append(t[0])
        vast_s, noop_s = statistics.median(vast_times), statistics.median(noop_times)
        table.add(f"no-change preview, {RESOURCES} Endpoints (median of 3)", f"{vast_s:.2f} s", "", "")
        table.add(f"no-change preview, {RESOURCES} no-op resources (median of 3)", f"{noop_s:.2f} s", "", "")
        table.add("ratio", f"{vast_s / noop_s:.2f}", "<= 1.3", "met" if vast_s / noop_s <= 1.3 else "MISSED")
        vast.destroy("--parallel", "64")
        noop.destroy("--parallel", "64")
    return table
