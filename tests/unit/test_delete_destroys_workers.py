"""Nothing bills after destroy: a workergroup's and an endpoint's delete destroy the workers they
recruited and return once the API lists none of them; a worker that cannot be destroyed fails the
delete, naming it. (An instance's own delete: tests/unit/test_instance.py.)"""

from __future__ import annotations

from typing import Any

import pytest
import requests

from tests.unit.conftest import configured
from vast_pulumi import _teardown
from vast_pulumi._launch_args import MARKER_ENV as GROUP_MARKER_ENV
from vast_pulumi._teardown import NotGoneError
from vast_pulumi.client import Row, VastClient
from vast_pulumi.emulator import Emulator
from vast_pulumi.endpoint import EndpointProvider
from vast_pulumi.settings import ProviderSettings
from vast_pulumi.workergroup import WorkergroupProvider

GROUP_MARKER = "g0123456789abcde"
QUERY = "gpu_name=RTX_4090 num_gpus=1"


@pytest.fixture
def client(emulator: Emulator) -> VastClient:
    return VastClient(ProviderSettings(emulator.api_keys[0], emulator.url), pacing_scale=0)


def listed(emulator: Emulator) -> list[Row]:
    rows: list[Row] = emulator.inventory()[0]["instances"]
    return rows


def workers_of(emulator: Emulator, group_id: int) -> list[int]:
    return [int(row["id"]) for row in listed(emulator) if row.get("workergroup_id") == group_id]


def rent_by_hand(client: VastClient, env: dict[str, str]) -> int:
    offer = client.search_offers({"limit": 1, "order": [["dph_total", "asc"]]})[0]
    return int(client.create_instance(int(offer["id"]), {"image": "busybox", "env": env})["new_contract"])


def our_group(emulator: Emulator, endpoint_id: int) -> tuple[WorkergroupProvider, str, dict[str, Any]]:
    """A workergroup made by its provider (so it carries GROUP_MARKER), and its recorded outputs."""
    provider = configured(WorkergroupProvider(), emulator.url, emulator.api_keys[0])
    news = provider.check(
        {}, {"_marker": GROUP_MARKER, "endpoint_id": float(endpoint_id), "search_params": QUERY}
    ).inputs
    created = provider.create(news)
    assert created.outs is not None
    return provider, str(created.id), created.outs


def test_a_workergroup_delete_destroys_its_workers_and_its_detached_ones_and_waits_until_unlisted(
    emulator: Emulator, client: VastClient
) -> None:
    endpoint_id = client.create_endpoint({"endpoint_name": "ep", "cold_workers": 2, "max_workers": 2})
    provider, group_id, outs = our_group(emulator, endpoint_id)
    recruited = workers_of(emulator, int(group_id))
    assert len(recruited) == 2
    # A worker of this group that an earlier delete left detached: only its marker says whose it is.
    detached = rent_by_hand(client, {GROUP_MARKER_ENV: GROUP_MARKER})
    others = [rent_by_hand(client, {}), rent_by_hand(client, {GROUP_MARKER_ENV: "another-group"})]

    provider.delete(group_id, outs)

    assert emulator.inventory()[0]["workergroups"] == []
    assert sorted(int(row["id"]) for row in listed(emulator)) == sorted(others)  # gone, not dying
    assert detached not in others and not set(recruited) & set(others)


def test_a_workergroup_delete_fails_naming_a_worker_still_listed_and_finds_it_again_next_time(
    emulator: Emulator, client: VastClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    endpoint_id = client.create_endpoint({"endpoint_name": "ep", "cold_workers": 1, "max_workers": 1})
    provider, group_id, outs = our_group(emulator, endpoint_id)
    (worker,) = workers_of(emulator, int(group_id))
    clock, frozen = emulator.backend.clock, emulator.backend.clock()
    emulator.backend.clock = lambda: frozen  # time stands still: the destroy never ends
    monkeypatch.setattr(_teardown, "DELETE_TIMEOUT", 0.5)
    with pytest.raises(NotGoneError, match=rf"worker instance {worker} \(still listed after 0.5 s\)"):
        provider.delete(group_id, outs)
    assert [int(row["id"]) for row in listed(emulator)] == [worker]  # detached now, still billing
    emulator.backend.clock = clock
    monkeypatch.setattr(_teardown, "DELETE_TIMEOUT", 600.0)
    provider.delete(group_id, outs)  # the group is gone: its marker still finds the worker
    assert listed(emulator) == []


def test_an_endpoint_delete_fails_naming_a_worker_the_api_could_not_destroy(
    emulator: Emulator, client: VastClient
) -> None:
    endpoint = configured(EndpointProvider(), emulator.url, emulator.api_keys[0])
    made = endpoint.create(
        endpoint.check(
            {}, {"_marker": "e", "endpoint_name": "ep", "cold_workers": 2.0, "max_workers": 2.0}
        ).inputs
    )
    assert made.outs is not None
    _, group_id, _ = our_group(emulator, int(made.id))
    stuck, doomed = workers_of(emulator, int(group_id))
    detached = rent_by_hand(client, {GROUP_MARKER_ENV: GROUP_MARKER})  # left by an earlier group delete
    unrelated = rent_by_hand(client, {})
    # Through the control plane: the worker's host stops answering, so the API cannot destroy it.
    requests.post(
        f"{emulator.url}/_emulator/instances/{stuck}/status/", json={"actual_status": "offline"}, timeout=10
    ).raise_for_status()

    with pytest.raises(NotGoneError, match=rf"worker instance {stuck} \(the API could not destroy it\)"):
        endpoint.delete(made.id, made.outs)

    assert emulator.inventory()[0]["endpoints"] == []
    still = sorted(int(row["id"]) for row in listed(emulator))
    assert still == sorted([stuck, unrelated])  # the destroyed workers are gone, not dying
    assert doomed not in still and detached not in still


def test_an_endpoint_delete_returns_once_its_workers_are_no_longer_listed(
    emulator: Emulator, client: VastClient
) -> None:
    endpoint = configured(EndpointProvider(), emulator.url, emulator.api_keys[0])
    made = endpoint.create(
        endpoint.check(
            {}, {"_marker": "e", "endpoint_name": "ep", "cold_workers": 3.0, "max_workers": 3.0}
        ).inputs
    )
    assert made.outs is not None
    client.create_workergroup({"endpoint_id": int(made.id), "search_params": QUERY})  # made by hand
    assert len(listed(emulator)) == 3
    endpoint.delete(made.id, made.outs)
    assert listed(emulator) == []
    endpoint.delete(made.id, made.outs)  # already gone: fine
