"""Issue 5 acceptance: under injected faults, real rate limits and a killed `pulumi up`, the
account ends with exactly what the stack's state says: no duplicates, no orphans."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.e2e.fleet import live_ids, managed_ids, set_faults, write_fleet_project
from vast_pulumi.emulator import Emulator
from vast_pulumi.local_pulumi import LocalBackend, Stack

API_KEY = "e2e-resilience-key"
FAULTS = "429=0.1,500=0.1,503=0.05,reset-before=0.03,reset-after=0.03"
FLEET = 10
EMPTY: dict[str, set[int]] = {"endpoints": set(), "workergroups": set(), "instances": set()}
# Destroy is immediate until the provider handles it (issue 11): the real one is asynchronous, so the
# account is not empty at once after `pulumi destroy`, and a replace could adopt a dying instance.
IMMEDIATE = 0.0


def deploy(backend: LocalBackend, emulator: Emulator, project: Path) -> Stack:
    config = {"vast:apiUrl": emulator.url}
    return backend.stack(project, "dev", config=config, secrets={"vast:apiKey": API_KEY})


@pytest.mark.parametrize("seed", range(1, 11))
def test_fault_matrix_up_and_destroy_leave_no_duplicates_or_orphans(
    local_backend: LocalBackend, tmp_path: Path, seed: int
) -> None:
    project = write_fleet_project(tmp_path / "fleet", "fleet", FLEET)
    # No client-side pacing: every injected 429 must be met by the retry path, not avoided.
    local_backend.extra_env["VAST_PULUMI_PACING_SCALE"] = "0"
    with Emulator(
        api_keys=[API_KEY], destroy_seconds=IMMEDIATE, seed=seed, boot_seconds=1, latency_ms=20, faults=FAULTS
    ) as emulator:
        stack = deploy(local_backend, emulator, project)
        started = time.monotonic()
        up_output = stack.up().stdout
        up_seconds = time.monotonic() - started
        faulted = sum(1 for r in emulator.request_log() if r.get("fault"))
        managed = managed_ids(stack)
        assert len(managed["instances"]) == FLEET + 1
        assert live_ids(emulator, API_KEY) == managed

        set_faults(emulator, FAULTS)
        started = time.monotonic()
        destroy_output = stack.destroy().stdout
        destroy_seconds = time.monotonic() - started
        assert live_ids(emulator, API_KEY) == EMPTY
        faulted_total = sum(1 for r in emulator.request_log() if r.get("fault"))
        # Provider log lines appear twice (live, then under Diagnostics); count the Diagnostics copy.
        logged = [
            line.strip()
            for line in (up_output + destroy_output).splitlines()
            if line.startswith("    vast: ")
        ]
        print(
            f"\nfault-matrix seed={seed} faults_injected={faulted}+{faulted_total - faulted}"
            f" client_retries={sum('; retry ' in line for line in logged)}"
            f" adopted_by_marker={sum('adopting' in line for line in logged)}"
            f" up={up_seconds:.1f}s destroy={destroy_seconds:.1f}s"
        )


def test_real_rate_limits_deploy_with_zero_failures(local_backend: LocalBackend, tmp_path: Path) -> None:
    project = write_fleet_project(tmp_path / "limited", "limited", 3)
    with Emulator(
        api_keys=[API_KEY], destroy_seconds=IMMEDIATE, seed=3, boot_seconds=1, rate_limits=True
    ) as emulator:
        stack = deploy(local_backend, emulator, project)
        stack.up()
        assert live_ids(emulator, API_KEY) == managed_ids(stack)
        stack.destroy()
        assert live_ids(emulator, API_KEY) == EMPTY
        statuses = [r["status"] for r in emulator.request_log()]
        print(f"\nrate-limited run: {len(statuses)} requests, {statuses.count(429)} answered 429")


def rented(count: int) -> Callable[[Emulator], bool]:
    """The moment ``count`` offers have been rented."""
    return lambda emulator: asks_put_count(emulator) >= count


def asks_put_count(emulator: Emulator) -> int:
    return sum(1 for r in emulator.request_log() if r["method"] == "PUT" and "/asks/" in r["path"])


def workergroup_created(emulator: Emulator) -> bool:
    """The moment the API has answered the workergroup's POST (the log has it before the client)."""
    return any(
        r["method"] == "POST" and r["route"] == "/api/v0/workergroups/" and r["status"] == 200
        for r in emulator.request_log()
    )


def kill_up_when(stack: Stack, emulator: Emulator, moment: Callable[[Emulator], bool]) -> None:
    """Start `pulumi up` and, at ``moment``, SIGKILL everything it started (CLI, language host,
    provider), as a cancelled CI job would."""
    backend = stack.backend
    argv = [backend.pulumi, "up", "--yes", "--skip-preview", "--non-interactive", "--stack", stack.name]
    proc = subprocess.Popen(
        argv,
        cwd=stack.project_dir,
        env=backend.env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + 120
    while not moment(emulator) and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    assert proc.poll() is None, "pulumi up finished before the kill moment"
    os.killpg(proc.pid, signal.SIGKILL)
    kill_session(proc.pid)
    proc.wait()


def kill_session(session_id: int) -> None:
    """SIGKILL what is left of a session: the CLI starts its plugins (the language host among them)
    in process groups of their own, which a CI runner's cancel still takes down."""
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            # After the command's closing parenthesis: state, ppid, pgrp, session.
            if int(stat.read_text().rsplit(")", 1)[1].split()[3]) == session_id:
                os.kill(int(stat.parent.name), signal.SIGKILL)


def recover(stack: Stack) -> None:
    """The documented recovery (README, "Recovering from an interrupted pulumi up")."""
    stack.run("cancel", "--yes", check=False)
    stack.refresh()
    stack.up()


@pytest.mark.parametrize("rents", [1, 3, 6])
def test_killed_up_recovers_with_cancel_and_up_leaving_nothing_orphaned(
    local_backend: LocalBackend, tmp_path: Path, rents: int
) -> None:
    project = write_fleet_project(tmp_path / "crash", "crash", 5)
    with Emulator(api_keys=[API_KEY], destroy_seconds=IMMEDIATE, seed=rents, boot_seconds=3) as emulator:
        stack = deploy(local_backend, emulator, project)
        kill_up_when(stack, emulator, rented(rents))
        recover(stack)
        managed = managed_ids(stack)
        assert len(managed["instances"]) == 6
        assert live_ids(emulator, API_KEY) == managed
        stack.destroy()
        assert live_ids(emulator, API_KEY) == EMPTY


def test_a_workergroup_created_by_a_killed_up_is_adopted_not_duplicated(
    local_backend: LocalBackend, tmp_path: Path
) -> None:
    project = write_fleet_project(tmp_path / "crash-wg", "crash-wg", 0)
    # Latency holds the provider in the read that follows the POST, so the kill lands after the
    # API made the group and before Pulumi could record it.
    with Emulator(
        api_keys=[API_KEY], destroy_seconds=IMMEDIATE, seed=7, boot_seconds=3, latency_ms=400
    ) as emulator:
        stack = deploy(local_backend, emulator, project)
        kill_up_when(stack, emulator, workergroup_created)
        (leftover,) = live_ids(emulator, API_KEY)["workergroups"]
        recorded = [r for r in stack.resources() if r["type"].endswith(":Workergroup")]
        assert recorded == [], "the kill came too late: state already has the workergroup"
        recover(stack)
        managed = managed_ids(stack)
        assert managed["workergroups"] == {leftover}
        assert live_ids(emulator, API_KEY) == managed
        stack.destroy()
        assert live_ids(emulator, API_KEY) == EMPTY
