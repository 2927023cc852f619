"""Target 1, flat scale: `pulumi up` of N instances (boot 10 s) for N = 1, 8, 32, against the
anchor a user would script today with the official client (create one by one, poll until running).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from benchmarks.common import API_KEY, INSTANCE_QUERY, Table, fleet_program, new_stack, timed, write_project
from vast_pulumi.emulator import Emulator
from vast_pulumi.local_pulumi import LocalBackend

BOOT_SECONDS = 10
LATENCY_MS = 50
SIZES = (1, 8, 32)
ANCHOR_SIZES = (1, 8)


def pulumi_up_seconds(root: Path, count: int, *extra: str) -> float:
    with Emulator(
        api_keys=[API_KEY], seed=count, boot_seconds=BOOT_SECONDS, latency_ms=LATENCY_MS
    ) as emulator:
        backend = LocalBackend(root / f"backend-{count}-{len(extra)}")
        project = write_project(root / f"fleet-{count}-{len(extra)}", "fleet", fleet_program(count))
        stack = new_stack(backend, emulator, project)
        with timed() as elapsed:
            stack.up(*extra)
        stack.destroy("--parallel", "64")
    return elapsed[0]


def vastai(url: str, *args: str) -> object:
    """Run the official CLI as a user's script would, returning its --raw JSON."""
    argv = [str(Path(sys.executable).parent / "vastai"), "--url", url, "--api-key", API_KEY, *args, "--raw"]
    out = subprocess.run(argv, capture_output=True, text=True, check=True).stdout
    return json.loads(out)


def official_client_seconds(count: int) -> float:
    """Rent `count` instances one by one with the official CLI, polling each until it runs."""
    with (
        Emulator(
            api_keys=[API_KEY], seed=count, boot_seconds=BOOT_SECONDS, latency_ms=LATENCY_MS
        ) as emulator,
        timed() as elapsed,
    ):
        offers = vastai(emulator.url, "search", "offers", INSTANCE_QUERY, "-o", "dph_total")
        assert isinstance(offers, list) and len(offers) >= count
        for offer in offers[:count]:
            created = vastai(
                emulator.url,
                "create",
                "instance",
                str(offer["id"]),
                "--image",
                "vastai/base-image",
                "--disk",
                "16",
            )
            assert isinstance(created, dict)
            while True:
                shown = vastai(emulator.url, "show", "instance", str(created["new_contract"]))
                if isinstance(shown, dict) and shown.get("actual_status") == "running":
                    break
                time.sleep(2)
    return elapsed[0]


def run(root: Path) -> Table:
    table = Table(
        "Flat scale (boot 10 s, latency 50 ms)",
        ["N", "pulumi up --parallel 64 (s)", "pulumi up, default parallel (s)", "official client (s)"],
    )
    cores = os.cpu_count() or 1
    default_parallel = {n: pulumi_up_seconds(root, n) for n in (1, 32)}
    wide = {n: pulumi_up_seconds(root, n, "--parallel", "64") for n in SIZES}
    anchor = {n: official_client_seconds(n) for n in ANCHOR_SIZES}
    for n in SIZES:
        default = f"{default_parallel[n]:.1f}" if n in default_parallel else "-"
        official = f"{anchor[n]:.1f}" if n in anchor else "-"
        table.add(n, f"{wide[n]:.1f}", default, official)
    flat = wide[32] / wide[1]
    table.verdicts += [
        f"T(32)/T(1) with --parallel 64 = {flat:.2f} (target <= 1.5: {'met' if flat <= 1.5 else 'MISSED'})",
        f"T(32)/T(1) with Pulumi's default parallelism (4 x {cores} cores = {4 * cores})"
        f" = {default_parallel[32] / default_parallel[1]:.2f}",
        f"official client T(8)/T(1) = {anchor[8] / anchor[1]:.2f};"
        f" pulumi T(8)/T(1) = {wide[8] / wide[1]:.2f}",
    ]
    return table
