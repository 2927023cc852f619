"""Endpoint provider lifecycle against the emulator, with the API calls each step costs."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.unit.conftest import api_calls, checked_news, configured, seed_for
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
ACCOUNT = ("GET", "/api/v0/users/current/")


def checked(provider: EndpointProvider, **changes: Any) -> dict[str, Any]:
    return checked_news(provider, {**INPUTS, **changes})


@pytest.fixture
def provider(connect: Callable[[EndpointProvider], EndpointProvider]) -> EndpointProvider:
    return connect(EndpointProvider())


def test_create_looks_writes_once_reads_once_and_outputs_the_effective_values(
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
    assert created.outs["account_id"] == emulator.backend.authenticate(emulator.api_keys[0]).user_id
    # The owner's id (once per process), the name must be free, the create, the one read.
    assert api_calls(emulator) == [ACCOUNT, LIST, CREATE, LIST]


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
    deletes = [call for call in api_calls(emulator, mark) if call[0] != "GET"]
    assert deletes == [("DELETE", "/api/v0/endptjobs/{id}/")] * 2  # the GETs look for its workers


def test_a_lost_create_reply_adopts_the_endpoint_instead_of_posting_again(
    vast_emulator_factory: Callable[..., Emulator],
) -> None:
    # Requests: the owner's id, the name check, our POST (reply lost), the look that finds it.
    emulator = vast_emulator_factory(
        seed=seed_for([False, False, True, False], 0.5), faults="reset-after=0.5"
    )
    provider = configured(EndpointProvider(), emulator.url, emulator.api_keys[0])
    created = provider.create(checked(provider, endpoint_name=GENERATED))
    emulator.set_faults(None)
    (row,) = emulator.inventory()[0]["endpoints"]
    assert created.id == str(row["id"])
    (faulted,) = [entry for entry in emulator.request_log() if entry["fault"]]
    assert (faulted["method"], faulted["route"]) == ("POST", "/api/v0/endptjobs/")
    assert api_calls(emulator).count(CREATE) == 1


GENERATED = "inference-01234567"  # default_name("inference", marker): it carries the marker


def test_an_endpoint_with_the_generated_name_left_by_a_killed_run_is_adopted_not_made_again(
    provider: EndpointProvider, emulator: Emulator
) -> None:
    orphan_id = provider.client.create_endpoint({"endpoint_name": GENERATED, "max_workers": 2})
    mark = len(emulator.request_log())
    created = provider.create(checked(provider, endpoint_name=GENERATED))
    assert created.id == str(orphan_id)
    (row,) = emulator.inventory()[0]["endpoints"]
    assert (row["id"], row["max_workers"], row["cold_workers"]) == (orphan_id, 4, 1)  # brought to the inputs
    assert CREATE not in api_calls(emulator, mark)


def test_a_user_given_name_already_taken_fails_pointing_to_adopt_id_and_changes_nothing(
    provider: EndpointProvider, emulator: Emulator
) -> None:
    existing = provider.client.create_endpoint({"endpoint_name": "inference", "max_workers": 11})
    before = emulator.inventory()[0]["endpoints"]
    mark = len(emulator.request_log())
    with pytest.raises(ValueError) as caught:
        provider.create(checked(provider))
    assert str(caught.value) == (
        f"endpoint_name: 'inference' is already the name of endpoint {existing}, which this resource did "
        "not create; nothing was changed. To manage that endpoint (for example one left by an "
        f"interrupted `pulumi up`), set adopt_id={existing}; otherwise choose another endpoint_name"
    )
    assert emulator.inventory()[0]["endpoints"] == before
    assert [method for method, _ in api_calls(emulator, mark)] == ["GET"] * len(api_calls(emulator, mark))


def test_a_lost_create_reply_with_a_user_given_name_finds_its_endpoint_not_an_older_one(
    vast_emulator_factory: Callable[..., Emulator],
) -> None:
    # Requests: the owner's id, the name check, our POST answered 500 after it was applied, the look.
    emulator = vast_emulator_factory(
        seed=seed_for([False, False, True, False, False], 0.5), faults="500-after=0.5"
    )
    provider = configured(EndpointProvider(), emulator.url, emulator.api_keys[0])
    created = provider.create(checked(provider))
    emulator.set_faults(None)
    (row,) = emulator.inventory()[0]["endpoints"]
    assert created.id == str(row["id"])
    (faulted,) = [entry for entry in emulator.request_log() if entry["fault"]]
    assert (faulted["method"], faulted["route"], faulted["status"]) == ("POST", "/api/v0/endptjobs/", 500)
    assert api_calls(emulator).count(CREATE) == 1


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
