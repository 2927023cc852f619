"""`vast-pulumi doctor` against a busy account under the real rate limits (target: under 60 s).

The account: 30 instances (two pages of the instance list), one of them interruptible and one being
destroyed, an endpoint whose workergroup runs workers, an SSH key, an env var, a volume. Rate limits
are switched on (the spec's thresholds, unscaled) once it is set up, and a list call is made just
before the doctor runs, so that the doctor meets a 429 on its way. The doctor runs as a user runs it:
its own process, from the command line.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import requests

from benchmarks.common import API_KEY, REPO_ROOT, Table, timed
from vast_pulumi.emulator import Emulator

INSTANCES = 30
TARGET_SECONDS = 60.0


def populate(url: str) -> None:
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {API_KEY}"

    def call(method: str, path: str, body: object = None) -> dict[str, object]:
        response = session.request(method, url + path, json=body, timeout=10)
        response.raise_for_status()
        answer: dict[str, object] = response.json() if response.text.startswith("{") else {}
        return answer

    offers = call("POST", "/api/v0/bundles/", {"limit": INSTANCES + 5, "rentable": {"eq": True}})["offers"]
    assert isinstance(offers, list)
    ids = [
        call("PUT", f"/api/v0/asks/{o['id']}/", {"image": "pytorch/pytorch"})["new_contract"]
        for o in offers[:INSTANCES]
    ]
    last = offers[INSTANCES]
    call(
        "PUT",
        f"/api/v0/asks/{last['id']}/",
        {"image": "pytorch/pytorch", "price": round(last["min_bid"] * 1.5, 4)},
    )
    call("DELETE", f"/api/v0/instances/{ids[0]}/", {})
    endpoint = call("POST", "/api/v0/endptjobs/", {"endpoint_name": "bench"})["result"]
    call("POST", "/api/v0/workergroups/", {"endpoint_id": endpoint, "search_params": "num_gpus=1"})
    call("PUT", f"/_emulator/endpoints/{endpoint}/load/", {"load": 2})
    key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHmXn5cT7jTeeGzXN4eoc4fQbL5JGvQ+x0UiFGXUNQ0E bench"
    call("POST", "/api/v0/ssh/", {"ssh_key": key})
    call("POST", "/api/v0/secrets/", {"key": "TOKEN", "value": "x"})
    volume = call("POST", "/api/v0/volumes/search/", {"limit": 1})["offers"]
    assert isinstance(volume, list)
    call("PUT", "/api/v0/volumes/", {"id": volume[0]["id"], "size": 10, "name": "data"})


def run(root: Path) -> Table:
    table = Table(
        "vast-pulumi doctor, busy account, real rate limits",
        ["run", "seconds", "API answers", "429s met", "exit"],
    )
    with Emulator(api_keys=[API_KEY], seed=5, boot_seconds=0.0, destroy_seconds=600.0) as emulator:
        populate(emulator.url)
        emulator.runtime.limiter.enabled = True  # --rate-limits, from here on
        for run_name in ("first (meets a 429)", "second"):
            requests.get(
                f"{emulator.url}/api/v1/instances/",
                headers={"Authorization": f"Bearer {API_KEY}"},
                timeout=10,
            )
            argv = [sys.executable, "-m", "vast_pulumi", "doctor", "--url", emulator.url, "--json"]
            env = {**os.environ, "VAST_API_KEY": API_KEY}
            with timed() as elapsed:
                done = subprocess.run(
                    argv, cwd=REPO_ROOT, env=env, capture_output=True, text=True, check=False
                )
            report = json.loads(done.stdout)
            limits = report["rate_limits"]
            table.add(run_name, f"{elapsed[0]:.2f}", limits["answers"], limits["429s"], done.returncode)
    worst = max(float(row[1]) for row in table.rows)
    verdict = "met" if worst < TARGET_SECONDS else "MISSED"
    table.verdicts.append(f"slowest run {worst:.2f} s (target < {TARGET_SECONDS:.0f} s: {verdict})")
    return table
