"""Workergroup provider lifecycle against the emulator, with the API calls each step costs."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.unit.conftest import api_calls, configured, seed_for
from vast_pulumi.emulator import Emulator
from vast_pulumi.workergroup import WorkergroupProvider

LIST = ("GET", "/api/v0/workergroups/")
CREATE = ("POST", "/api/v0/workergroups/")


@pytest.fixture
def endpoint_id(emulator: Emulator) -> int:
    from vast_pulumi.client import VastClient
    from vast_pulumi.settings import ProviderSettings

    client = VastClient(ProviderSettings(emulator.api_keys[0], emulator.url), pacing_scale=0)
    return client.create_endpoint({"endpoint_name": "ep", "cold_workers": 1})


@pytest.fixture
def provider(connect: Callable[[WorkergroupProvider], WorkergroupProvider]) -> WorkergroupProvider:
    return connect(WorkergroupProvider())


def checked(provider: WorkergroupProvider, **inputs: Any) -> dict[str, Any]:
    result = provider.check({}, {"__provider": "blob", "_marker": "m", **inputs})
    assert result.failures == []
    return {**result.inputs, "__provider": "blob"}


def test_create_is_one_write_and_one_read(
    provider: WorkergroupProvider, emulator: Emulator, endpoint_id: int
) -> None:
    mark = len(emulator.request_log())
    created = provider.create(
        checked(
            provider, endpoint_id=str(endpoint_id), search_params="gpu_name=RTX_4090 num_gpus=1", gpu_ram=24.0
        )
    )
    (row,) = emulator.inventory()[0]["workergroups"]
    assert created.id == str(row["id"])
    assert created.outs is not None
    assert created.outs["api_key"] == row["api_key"]
    assert (created.outs["endpoint_id"], created.outs["endpoint_name"]) == (endpoint_id, "ep")
    assert created.outs["search_query"]["gpu_name"] == {"eq": "RTX 4090"}
    assert created.outs["cold_workers"] == 3  # the API's default: unset inputs are not sent
    assert api_calls(emulator, mark) == [CREATE, LIST]


def test_no_diff_after_create_and_none_for_a_respelled_query(
    provider: WorkergroupProvider, endpoint_id: int, emulator: Emulator
) -> None:
    news = checked(provider, endpoint_name="ep", search_params="gpu_name=RTX_4090 num_gpus=1")
    created = provider.create(news)
    assert created.outs is not None
    mark = len(emulator.request_log())
    assert provider.diff(created.id, created.outs, news).changes is False
    respelled = checked(
        provider, endpoint_name="ep", search_params="num_gpus=1 gpu_name=RTX_4090 verified=true"
    )
    assert provider.diff(created.id, created.outs, respelled).changes is False
    by_id = checked(provider, endpoint_id=float(endpoint_id), search_params="gpu_name=RTX_4090 num_gpus=1")
    assert provider.diff(created.id, created.outs, by_id).changes is False
    assert api_calls(emulator, mark) == []


def test_update_changes_the_group_in_place(
    provider: WorkergroupProvider, endpoint_id: int, emulator: Emulator
) -> None:
    created = provider.create(
        checked(provider, endpoint_id=float(endpoint_id), search_params="gpu_name=RTX_4090")
    )
    assert created.outs is not None
    news = checked(
        provider, endpoint_id=float(endpoint_id), search_params="gpu_name=RTX_3090", max_workers=2.0
    )
    assert provider.diff(created.id, created.outs, news).replaces == []
    mark = len(emulator.request_log())
    updated = provider.update(created.id, created.outs, news)
    assert updated.outs is not None
    (row,) = emulator.inventory()[0]["workergroups"]
    assert (row["id"], row["max_workers"], row["search_query"]["gpu_name"]) == (
        int(created.id),
        2,
        {"eq": "RTX 3090"},
    )
    assert updated.outs["search_query"] == row["search_query"]
    assert provider.diff(created.id, updated.outs, news).changes is False
    assert api_calls(emulator, mark) == [("PUT", "/api/v0/workergroups/{id}/"), LIST]


def test_a_group_deleted_with_its_endpoint_reads_as_gone_and_deletes_fine(
    provider: WorkergroupProvider, endpoint_id: int
) -> None:
    created = provider.create(
        checked(provider, endpoint_id=float(endpoint_id), search_params="gpu_name=RTX_4090")
    )
    assert created.outs is not None
    provider.client.delete_endpoint(endpoint_id)  # takes its workergroups with it
    read = provider.read(created.id, created.outs)
    assert (read.id, read.outs) == (None, {})
    provider.delete(created.id, created.outs)


def test_a_lost_create_reply_adopts_the_group_instead_of_posting_again(
    vast_emulator_factory: Callable[..., Emulator],
) -> None:
    # Requests: the endpoint's POST, then our POST (reply lost), then our list.
    emulator = vast_emulator_factory(seed=seed_for([False, True, False], 0.5), faults="reset-after=0.5")
    provider = configured(WorkergroupProvider(), emulator.url, emulator.api_keys[0])
    endpoint_id = provider.client.create_endpoint({"endpoint_name": "ep"})
    created = provider.create(
        checked(provider, endpoint_id=float(endpoint_id), search_params="gpu_name=RTX_4090")
    )
    emulator.set_faults(None)
    (row,) = emulator.inventory()[0]["workergroups"]
    assert created.id == str(row["id"])
    assert api_calls(emulator).count(CREATE) == 1


def test_adopt_id_takes_an_existing_group_under_management(
    provider: WorkergroupProvider, endpoint_id: int, emulator: Emulator
) -> None:
    existing = provider.client.create_workergroup(
        {"endpoint_id": endpoint_id, "search_params": "gpu_name=RTX_3090"}
    )
    created = provider.create(
        checked(
            provider,
            endpoint_id=float(endpoint_id),
            search_params="gpu_name=RTX_4090",
            adopt_id=float(existing),
        )
    )
    assert created.id == str(existing)
    (row,) = emulator.inventory()[0]["workergroups"]
    assert row["search_query"]["gpu_name"] == {"eq": "RTX 4090"}


def test_adopting_a_group_of_another_endpoint_is_refused(
    provider: WorkergroupProvider, endpoint_id: int
) -> None:
    other = provider.client.create_endpoint({"endpoint_name": "other"})
    existing = provider.client.create_workergroup(
        {"endpoint_id": other, "search_params": "gpu_name=RTX_3090"}
    )
    with pytest.raises(ValueError, match="cannot move to another endpoint"):
        provider.create(
            checked(
                provider,
                endpoint_id=float(endpoint_id),
                search_params="gpu_name=RTX_4090",
                adopt_id=float(existing),
            )
        )
