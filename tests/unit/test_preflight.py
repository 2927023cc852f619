"""Issue 20: a running machine is never lost to a replacement that cannot be created.

A diff that plans an instance replacement (or a fleet rollout) makes one offer search for the new
inputs and fails, naming the query, when nothing can be rented; else the offer it would rent is
shown. ``create_before_delete`` makes the engine create the new instance first, and its create
must not adopt the old instance (which carries the resource's marker) as if it were the new one.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.unit.conftest import INSTANCE, QUERY, api_calls, checked_news
from vast_pulumi._instance_rows import actual_status, marker_of
from vast_pulumi.emulator import Emulator
from vast_pulumi.errors import OfferUnavailableError
from vast_pulumi.fleet import FleetProvider
from vast_pulumi.instance import InstanceProvider

MARKER = "0d1f2e3c4b5a6978"
SEARCH = ("POST", "/api/v0/bundles/")

pytestmark = pytest.mark.usefixtures("quick_polls")


@pytest.fixture
def provider(connect: Callable[[InstanceProvider], InstanceProvider]) -> InstanceProvider:
    return connect(InstanceProvider())


def checked(provider: Any, **inputs: Any) -> dict[str, Any]:
    return checked_news(provider, {"_marker": MARKER, **inputs})


def box(provider: InstanceProvider, **changes: Any) -> dict[str, Any]:
    return checked(provider, **{**INSTANCE, **changes})


def test_a_replacement_that_cannot_be_rented_fails_the_diff_naming_the_query(
    provider: InstanceProvider, emulator: Emulator
) -> None:
    olds = {**box(provider), "offer_id": 1}
    mark = len(emulator.request_log())
    with pytest.raises(OfferUnavailableError) as error:
        provider.diff("20000012", olds, box(provider, offer_query="gpu_name=RTX4090 num_gpus=1"))
    assert str(error.value) == (
        "no offer matches offer_query 'gpu_name=RTX4090 num_gpus=1' with 16 GB of disk right now; "
        "gpu_name 'RTX4090' is no GPU Vast.ai knows; did you mean 'RTX_4090'? (so the replacement could "
        "not be rented: nothing was changed, instance 20000012 keeps running)"
    )
    # One search (and, only because it found nothing, the public list of GPU names); no write.
    assert api_calls(emulator, mark) == [SEARCH, ("GET", "/api/v0/gpu_names/unique/")]


def test_a_rentable_replacement_destroys_first_unless_create_before_delete(
    provider: InstanceProvider, emulator: Emulator, caplog: pytest.LogCaptureFixture
) -> None:
    olds = {**box(provider), "offer_id": 1}
    mark = len(emulator.request_log())
    result = provider.diff("20000012", olds, box(provider, disk=32.0))
    assert (result.replaces, result.delete_before_replace) == (["disk"], True)
    assert api_calls(emulator, mark) == [SEARCH]
    # Outside the provider server the planned offer goes to the log (inside, to the resource's row).
    assert "the replacement of instance 20000012 would rent offer " in caplog.text
    assert "x RTX 4090, $" in caplog.text
    overlap = provider.diff("20000012", olds, box(provider, disk=32.0, create_before_delete=True))
    assert (overlap.replaces, overlap.delete_before_replace) == (["disk"], False)


def test_no_replacement_no_search(provider: InstanceProvider, emulator: Emulator) -> None:
    created = provider.create(box(provider))
    olds = created.outs
    assert olds is not None
    mark = len(emulator.request_log())
    assert provider.diff(created.id, olds, {**olds, "create_before_delete": True}).changes is False
    assert api_calls(emulator, mark) == []  # no change: no call at all
    assert provider.diff(created.id, olds, {**olds, "label": "renamed"}).replaces == []
    # An update may read the instance list (one gone out of band is replaced, not updated); it never
    # searches offers nor writes.
    assert set(api_calls(emulator, mark)) <= {("GET", "/api/v1/instances/")}


def test_create_before_delete_rents_a_new_instance_beside_the_old_one(
    provider: InstanceProvider, emulator: Emulator
) -> None:
    old = provider.create(box(provider, create_before_delete=True))
    new_inputs = box(provider, disk=32.0, create_before_delete=True)
    new = provider.create(new_inputs)  # the engine's order with delete_before_replace=False
    assert new.id != old.id  # not the old instance adopted as the new one
    rows = {str(row["id"]): row for row in provider.client.list_instances()}
    assert actual_status(rows[old.id]) == "running"  # still running until the engine deletes it
    assert marker_of(rows[old.id]) != marker_of(rows[new.id])
    # An interrupted create of the same inputs adopts what it made, as any create does.
    assert provider.create(new_inputs).id == new.id


def test_a_fleet_rollout_that_cannot_be_rented_fails_the_diff(
    connect: Callable[[FleetProvider], FleetProvider], emulator: Emulator
) -> None:
    fleet = connect(FleetProvider())
    olds = checked(fleet, count=2, offer_query=QUERY, image="pytorch/pytorch")
    with pytest.raises(
        OfferUnavailableError, match=r"nothing was changed, fleet 5 \(its members\) keeps running"
    ):
        fleet.diff(
            "5", olds, checked(fleet, count=2, offer_query="gpu_name=RTX_4009", image="pytorch/pytorch")
        )


def test_without_an_api_key_the_check_is_left_to_the_up(caplog: pytest.LogCaptureFixture) -> None:
    provider = InstanceProvider()  # not configured, and no key anywhere: a preview without credentials
    olds = {**box(provider), "offer_id": 1}
    result = provider.diff("20000012", olds, box(provider, disk=32.0))
    assert (result.replaces, result.delete_before_replace) == (["disk"], True)
    assert "could not check that the replacement of instance 20000012 can be rented: no Vast.ai API key" in (
        caplog.text
    )


def test_a_replacement_on_the_offer_the_instance_holds_is_not_searched(
    provider: InstanceProvider, emulator: Emulator
) -> None:
    pinned = {"offer_id": 1234.0, "image": "pytorch/pytorch", "disk": 16.0}
    olds = {**checked(provider, **pinned), "offer_id": 1234}
    mark = len(emulator.request_log())
    # The old instance holds that offer (listed as rented until it is gone): a search would not find it.
    result = provider.diff("20000012", olds, checked(provider, **{**pinned, "image": "pytorch/pytorch:2"}))
    assert result.replaces == ["image"] and api_calls(emulator, mark) == []
