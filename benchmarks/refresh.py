"""Target 3, rate-limited refresh: `pulumi refresh` of 32 instances under the real thresholds,
against one `GET /instances/{id}/` per instance under the same limits (computed and measured)."""

from __future__ import annotations

import time
from pathlib import Path

import requests

from benchmarks.common import API_KEY, Table, api_calls, fleet_program, new_stack, timed, write_project
from vast_pulumi.emulator import Emulator
from vast_pulumi.local_pulumi import LocalBackend

FLEET = 32
SINGLE_GET_THRESHOLD = 2.0  # seconds between GET /instances/{id}/ calls (OpenAPI x-rate-limit)


def per_instance_seconds(url: str, ids: list[int]) -> float:
    """One GET per instance, as fast as the limit allows (retrying 429s after the threshold)."""
    headers = {"Authorization": f"Bearer {API_KEY}"}
    with timed() as elapsed:
        for instance_id in ids:
            while (
                requests.get(
                    f"{url}/api/v0/instances/{instance_id}/", headers=headers, timeout=10
                ).status_code
                == 429
            ):
                time.sleep(SINGLE_GET_THRESHOLD / 4)
    return elapsed[0]


def run(root: Path) -> Table:
    table = Table(
        f"Rate-limited refresh of {FLEET} instances (real thresholds)", ["variant", "seconds", "API calls"]
    )
    state = root / "emulator-state.json"
    backend = LocalBackend(root / "backend")
    project = write_project(root / "fleet", "fleet", fleet_program(FLEET))
    with Emulator(api_keys=[API_KEY], seed=3, boot_seconds=1, state=str(state)) as emulator:
        stack = new_stack(backend, emulator, project)
        stack.up("--parallel", "64")
        ids = [int(r["id"]) for r in stack.resources() if r["type"].endswith("vast:Instance")]
        port = int(emulator.url.rsplit(":", 1)[1])
    # The same data, now under the real rate limits. Same port: a plain `pulumi refresh` configures
    # the provider with the config recorded at the last update, so the URL must not change.
    with Emulator(
        api_keys=[API_KEY], seed=3, boot_seconds=1, state=str(state), rate_limits=True, port=port
    ) as emulator:
        mark = len(emulator.request_log())
        with timed() as elapsed:
            stack.refresh()
        refresh_calls = len(api_calls(emulator, mark))
        table.add("pulumi refresh", f"{elapsed[0]:.1f}", refresh_calls)
        bound = (FLEET - 1) * SINGLE_GET_THRESHOLD
        table.add("one GET per instance, computed from the 2.0 s threshold", f"{bound:.1f}", FLEET)
        measured = per_instance_seconds(emulator.url, ids)
        table.add("one GET per instance, measured", f"{measured:.1f}", f">= {FLEET}")
        table.verdicts.append(
            f"refresh / per-instance: {elapsed[0] / bound:.2f} computed, {elapsed[0] / measured:.2f} measured"
            f" (target <= 0.25: {'met' if elapsed[0] <= 0.25 * min(bound, measured) else 'MISSED'})"
        )
        stack.destroy("--parallel", "64")
    return table
