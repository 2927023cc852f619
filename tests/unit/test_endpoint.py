"""Endpoint provider lifecycle against the emulator, with the API calls each step costs."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.unit.conftest import api_calls, configured, faulted_calls, seed_for
from vast_pulumi.emulator import Emulator
from vast_pulumi.endpoint import EndpointProvider

INPUTS = {
    "endpoint_name": "inference",
    "max_workers": 4.0,
    "cold_workers": 1.0,
    "_marker": "0123456789abcdef",
}
LIST = ("GET", "/api/v0/endptjobs/")
CREATE = ("POST", "/api/v0/endptjobs/")


def checked(provider: EndpointProvider, **changes: Any) -> dict[str, Any]:
    result = provider.check({}, {"__provider": "blob", **INPUTS, **changes})
    assert result.failures == []
    return {**result.inputs, "__provider": "blob"}


@pytest.fixture
def provider(connect: Callable[[EndpointProvider], EndpointProvider]) -> EndpointProvider:
    return connect(EndpointProvider())


def test_create_is_one_write_and_one_read_and_outputs_the_effective_values(
    provider: EndpointProvider, emulator: Emulator
) -> None:
    created = provider.create(checked(provider))
    (row,) = emulator.inventory()[0]["endpoints"]
    assert created.id == str(row["id"])
    assert created.outs is not None
    assert created.outs["api_key"] == row["api_key"]
    assert (created.outs["max_workers"], created.outs["cold_workers"], created.outs["target_util"]) == (
        4,
        1,
        0.9,
    )
    assert (row["max_workers"], row["cold_workers"], row["min_load"]) == (4, 1, 0.0)  # all sent explicitly
    assert api_calls(emulator) == [CREATE, LIST]


def test_check_and_diff_make_no_api_calls(provider: EndpointProvider, emulator: Emulator) -> None:
    created = provider.create(checked(provider))
    mark = len(emulator.request_log())
    assert created.outs is not None
    result = provider.diff(created.id, created.outs, checked(provider))
    assert result.changes is False
    assert api_calls(emulator, mark) == []


def test_read_without_drift_returns_the_same_outputs_and_leaves_inputs_alone(
    provider: EndpointProvider,
) -> None:
    created = provider.create(checked(provider))
    assert created.outs is not None
    read = provider.read(created.id, {**created.outs, "__provider": "blob"})
    assert (read.id, read.outs, read.inputs) == (created.id, created.outs, None)


def test_read_reports_drift_in_outputs_and_inputs(
    provider: EndpointProvider, emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("vast_pulumi.client.SNAPSHOT_MAX_AGE", 0.0)  # as in a fresh `pulumi refresh`
    created = provider.create(checked(provider))
    assert created.outs is not None
    emulator.backend.drift("endpoints", int(created.id), {"max_workers": 9})
    read = provider.read(created.id, created.outs)
    assert read.outs is not None and read.inputs is not None
    assert read.outs["max_workers"] == read.inputs["max_workers"] == 9
    assert read.inputs["endpoint_name"] == "inference"
    assert "api_key" not in read.inputs
    assert provider.diff(created.id, read.outs, checked(provider)).changes is True


def test_read_of_a_deleted_endpoint_says_gone(provider: EndpointProvider) -> None:
    created = provider.create(checked(provider))
    assert created.outs is not None
    provider.delete(created.id, created.outs)
    read = provider.read(created.id, created.outs)
    assert (read.id, read.outs) == (None, {})


def test_update_puts_the_full_body_once_then_reads_once(
    provider: EndpointProvider, emulator: Emulator
) -> None:
    created = provider.create(checked(provider))
    assert created.outs is not None
    mark = len(emulator.request_log())
    updated = provider.update(
        created.id, created.outs, checked(provider, max_workers=7.0, endpoint_state="stopped")
    )
    assert updated.outs is not None
    assert (updated.outs["max_workers"], updated.outs["endpoint_state"]) == (7, "stopped")
    assert updated.outs["api_key"] == created.outs["api_key"]  # nothing dropped
    (row,) = emulator.inventory()[0]["endpoints"]
    assert (row["max_workers"], row["endpoint_state"], row["cold_workers"]) == (7, "stopped", 1)
    assert api_calls(emulator, mark) == [("PUT", "/api/v0/endptjobs/{id}/"), LIST]


def test_delete_is_one_call_and_a_second_delete_is_fine(
    provider: EndpointProvider, emulator: Emulator
) -> None:
    created = provider.create(checked(provider))
    assert created.outs is not None
    mark = len(emulator.request_log())
    provider.delete(created.id, created.outs)
    provider.delete(created.id, created.outs)
    assert emulator.inventory()[0]["endpoints"] == []
    assert api_calls(emulator, mark) == [("DELETE", "/api/v0/endptjobs/{id}/")] * 2


def test_a_lost_create_reply_adopts_the_endpoint_instead_of_posting_again(
    vast_emulator_factory: Callable[..., Emulator],
) -> None:
    # Requests: our POST (reply lost), then whatever the create needs.
    emulator = vast_emulator_factory(seed=seed_for([True] + [False] * 10, 0.5), faults="reset-after=0.5")
    provider = configured(EndpointProvider(), emulator.url, emulator.api_keys[0])
    created = provider.create(checked(provider))
    emulator.set_faults(None)
    assert faulted_calls(emulator) == [(*CREATE, "reset-after")]
    (row,) = emulator.inventory()[0]["endpoints"]
    assert created.id == str(row["id"])
    assert api_calls(emulator).count(CREATE) == 1


def test_an_endpoint_left_by_an_interrupted_run_is_kept_and_the_new_one_dropped(
    provider: EndpointProvider, emulator: Emulator
) -> None:
    orphan_id = provider.client.create_endpoint({"endpoint_name": "inference", "max_workers": 2})
    created = provider.create(checked(provider))
    assert created.id == str(orphan_id)
    (row,) = emulator.inventory()[0]["endpoints"]
    assert (row["id"], row["max_workers"], row["cold_workers"]) == (orphan_id, 4, 1)  # brought to the inputs


def test_adopt_id_takes_an_existing_endpoint_under_management(
    provider: EndpointProvider, emulator: Emulator
) -> None:
    existing = provider.client.create_endpoint({"endpoint_name": "inference", "max_workers": 9})
    mark = len(emulator.request_log())
    created = provider.create(checked(provider, adopt_id=float(existing)))
    assert created.id == str(existing)
    assert created.outs is not None and "adopt_id" not in created.outs
    (row,) = emulator.inventory()[0]["endpoints"]
    assert row["max_workers"] == 4
    assert CREATE not in api_calls(emulator, mark)


def test_adopting_an_endpoint_that_does_not_exist_says_so(provider: EndpointProvider) -> None:
    with pytest.raises(ValueError, match="adopt_id: there is no endpoint 4999"):
        provider.create(checked(provider, adopt_id=4999.0))


def test_an_endpoint_created_stopped_ends_stopped(provider: EndpointProvider, emulator: Emulator) -> None:
    created = provider.create(checked(provider, endpoint_state="stopped"))
    assert created.outs is not None and created.outs["endpoint_state"] == "stopped"
    assert emulator.inventory()[0]["endpoints"][0]["endpoint_state"] == "stopped"
