"""Readiness waits: one list read per poll interval, shared by every wait of the process, counted in
the emulator's request log."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest

from tests.unit.conftest import api_calls, configured
from vast_pulumi import _instances as instance_module
from vast_pulumi import _snapshot as snapshot_module
from vast_pulumi import _transport as transport_module
from vast_pulumi.emulator import Emulator
from vast_pulumi.instance import InstanceProvider

QUERY = "gpu_name=RTX_4090 num_gpus=1"
RENT = ("PUT", "/api/v0/asks/{id}/")
LIST = ("GET", "/api/v1/instances/")
SINGLE = ("GET", "/api/v0/instances/{id}/")


class SharedClock:
    """One clock for the emulator and the provider's waits: a boot of B seconds takes B seconds of it,
    whatever the machine's load, so the reads it costs are known."""

    def __init__(self) -> None:
        self.now = 1_000.0
        self._lock = threading.Lock()

    def monotonic(self) -> float:
        return self.now

    def time(self) -> float:
        return 1_800_000_000.0 + self.now

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.now += max(0.0, seconds)


def checked(provider: InstanceProvider, marker: str) -> dict[str, Any]:
    inputs = {"offer_query": QUERY, "image": "pytorch/pytorch", "disk": 16.0, "_marker": marker}
    result = provider.check({}, {"__provider": "blob", **inputs})
    assert result.failures == []
    return {**result.inputs, "__provider": "blob"}


def reads_while_booting(emulator: Emulator) -> list[tuple[str, str]]:
    calls = api_calls(emulator)
    last_rent = max(index for index, call in enumerate(calls) if call == RENT)
    return [call for call in calls[last_rent + 1 :] if call[0] == "GET"]


@pytest.mark.parametrize("boot", [6.0, 12.0, 24.0])
def test_reads_during_a_boot_grow_linearly_with_it_at_the_poll_interval(
    vast_emulator_factory: Callable[..., Emulator], monkeypatch: pytest.MonkeyPatch, boot: float
) -> None:
    clock = SharedClock()
    monkeypatch.setattr(transport_module, "time", clock)
    monkeypatch.setattr(snapshot_module, "time", clock)
    monkeypatch.setattr(instance_module, "time", clock)
    emulator = vast_emulator_factory(boot_seconds=boot)
    emulator.backend.clock = clock.time
    provider = configured(InstanceProvider(), emulator.url, emulator.api_keys[0])
    created = provider.create(checked(provider, "feedfacecafebeef"))
    assert created.outs is not None and created.outs["actual_status"] == "running"
    reads = reads_while_booting(emulator)
    interval = instance_module.POLL_SECONDS
    assert set(reads) == {LIST}  # no per-instance GET
    # One read at the start, one per interval until the boot is over: no backoff, no growth.
    assert boot / interval <= len(reads) <= boot / interval + 2


def test_concurrent_waits_share_one_list_read_per_interval(
    vast_emulator_factory: Callable[..., Emulator], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(instance_module, "POLL_SECONDS", 0.2)
    emulator = vast_emulator_factory(boot_seconds=1.5)
    provider = configured(InstanceProvider(), emulator.url, emulator.api_keys[0])
    errors: list[BaseException] = []

    def create(index: int) -> None:
        try:
            provider.create(checked(provider, f"{index:016x}"))
        except BaseException as error:  # reported by the assertion below
            errors.append(error)

    threads = [threading.Thread(target=create, args=(index,)) for index in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    calls = api_calls(emulator)
    assert calls.count(RENT) == 8
    assert SINGLE not in calls  # never one read per instance
    # The list reads after the last rent: at most one check per create that its rent is listed, then
    # one per interval of the time the waits took (arrival times in the request log), not one per wait.
    log = [e for e in emulator.request_log() if e["route"] in (RENT[1], LIST[1])]
    last_rent = max(i for i, e in enumerate(log) if e["route"] == RENT[1])
    times = [e["time"] for e in log[last_rent + 1 :]]
    span = times[-1] - times[0]
    per_interval = span / 0.2 + 2
    assert len(times) <= 8 + per_interval
    assert 8 * per_interval > 2 * (8 + per_interval)  # what the bound rules out: a read per wait
