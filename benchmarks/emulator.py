"""The emulator's own CPU: what a test suite pays per emulator started and stopped (one per test), per
second an emulator sits idle (one per xdist worker through every end-to-end test), and per request
(the server's thread only, measured with its thread CPU clock; the client's side is left out).
Target: an idle emulator costs under 2 ms of CPU a second, and a start and stop under 5 ms.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import requests

from benchmarks.common import Table
from vast_pulumi.emulator import Emulator

STARTS = 100
REQUESTS = 300
IDLE_SECONDS = 3.0
RENTED = 5  # instances on the account for the list reads


def run(tmp: Path) -> Table:
    del tmp  # nothing written
    table = Table("Emulator CPU", ["what", "CPU ms", "wall ms"])
    start_stop, start_stop_wall = _start_stop()
    table.add(
        "start + stop (one request on a kept-alive connection)", f"{start_stop:.2f}", f"{start_stop_wall:.1f}"
    )
    with Emulator(api_keys=["k"], seed=1, boot_seconds=0.0) as emulator:
        session = requests.Session()
        session.headers["Authorization"] = "Bearer k"
        idle = _idle_cpu_per_second(emulator)
        table.add("idle, per second", f"{idle:.2f}", "")
        for name, call in _calls(emulator, session).items():
            table.add(f"server, per request: {name}", f"{_server_cpu_per_call(emulator, call):.2f}", "")
    table.verdicts.append(f"idle {idle:.2f} ms/s: {'met' if idle < 2 else 'NOT met'} (target < 2)")
    met = "met" if start_stop < 5 else "NOT met"
    table.verdicts.append(f"start + stop {start_stop:.2f} ms: {met} (target < 5)")
    return table


def _start_stop() -> tuple[float, float]:
    cpu, wall = time.process_time(), time.perf_counter()
    for _ in range(STARTS):
        with Emulator(api_keys=["k"], seed=1, boot_seconds=0.3) as emulator:
            requests.Session().get(
                emulator.url + "/api/v0/users/current/", headers={"Authorization": "Bearer k"}
            )
    return (time.process_time() - cpu) / STARTS * 1000, (time.perf_counter() - wall) / STARTS * 1000


def _server_cpu(emulator: Emulator) -> float:
    thread = emulator._thread  # the server's thread: its CPU clock is the server's cost
    assert thread is not None and thread.ident is not None
    return time.clock_gettime(time.pthread_getcpuclockid(thread.ident))


def _idle_cpu_per_second(emulator: Emulator) -> float:
    before = _server_cpu(emulator)
    time.sleep(IDLE_SECONDS)
    return (_server_cpu(emulator) - before) / IDLE_SECONDS * 1000


def _calls(emulator: Emulator, session: requests.Session) -> dict[str, Callable[[], object]]:
    url = emulator.url + "/api/v0"
    query = {"gpu_name": {"eq": "RTX 4090"}, "num_gpus": {"eq": 1}, "limit": 64}
    for _ in range(RENTED):
        offer = session.post(url + "/bundles/", json={**query, "limit": 1}).json()["offers"][0]["id"]
        session.put(f"{url}/asks/{offer}/", json={"image": "vastai/base-image", "disk": 16})
    return {
        "GET /users/current/": lambda: session.get(url + "/users/current/"),
        f"GET /instances/ ({RENTED} rows)": lambda: session.get(url + "/instances/"),
        "POST /bundles/ (single RTX 4090s, limit 64: the provider's search)": lambda: session.post(
            url + "/bundles/", json=query
        ),
        "POST /bundles/ (the whole market)": lambda: session.post(url + "/bundles/", json={}),
    }


def _server_cpu_per_call(emulator: Emulator, call: Callable[[], object]) -> float:
    call()
    before = _server_cpu(emulator)
    for _ in range(REQUESTS):
        call()
    return (_server_cpu(emulator) - before) / REQUESTS * 1000
