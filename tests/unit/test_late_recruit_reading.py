"""The provider's workergroup delete against the emulator's real ``worker_recruit=late`` reading
(audit S2/PA1): a rent in flight at the delete lands afterwards, detached, and the delete's sweep
destroys it. The provider's waits move the emulator's clock: no wall clock."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.unit.conftest import FakeTime, configured
from vast_pulumi import _workers
from vast_pulumi import client as client_module
from vast_pulumi.client import VastClient
from vast_pulumi.emulator import Emulator
from vast_pulumi.emulator.autoscaler import RECRUIT_SECONDS
from vast_pulumi.settings import ProviderSettings
from vast_pulumi.workergroup import WorkergroupProvider


@pytest.mark.parametrize("ties", ["tied", "untied"])
def test_a_rent_in_flight_at_the_groups_delete_lands_and_is_destroyed_by_the_delete(
    vast_emulator_factory: Callable[..., Emulator], monkeypatch: pytest.MonkeyPatch, ties: str
) -> None:
    # destroy_seconds 0: the teardown's wait for "gone" runs on the wall clock, this emulator's on fake time
    emulator = vast_emulator_factory(
        seed=1, boot_seconds=0.3, destroy_seconds=0, readings={"worker_recruit": "late", "worker_ties": ties}
    )
    fake = FakeTime()
    monkeypatch.setattr(_workers, "time", fake)  # the sweep's clock and sleeps
    monkeypatch.setenv(_workers.LATE_RECRUIT_ENV, str(2 * RECRUIT_SECONDS))
    emulator.backend.clock = lambda: 1_800_000_000.0 + fake.now
    client = VastClient(ProviderSettings(emulator.api_keys[0], emulator.url), pacing_scale=0)
    endpoint_id = client.create_endpoint({"endpoint_name": "ep", "cold_workers": 1, "max_workers": 1})
    provider = configured(WorkergroupProvider(), emulator.url, emulator.api_keys[0])
    checked = provider.check(
        {}, {"_marker": "0123456789abcdef", "endpoint_id": float(endpoint_id), "search_params": "num_gpus=1"}
    )
    created = provider.create(checked.inputs)
    assert created.outs is not None
    assert emulator.inventory()[0]["instances"] == []  # the worker's rent is in flight
    monkeypatch.setattr(client_module, "SNAPSHOT_MAX_AGE", 0.0)  # every look at the list is fresh

    provider.delete(str(created.id), created.outs)

    assert fake.now >= 1_000.0 + RECRUIT_SECONDS  # the sweep waited past the landing
    deletes = [e for e in emulator.request_log() if e["method"] == "DELETE" and "/instances/" in e["path"]]
    assert len(deletes) == 1 and deletes[0]["status"] == 200  # the late recruit, destroyed
    assert emulator.inventory()[0]["instances"] == []
