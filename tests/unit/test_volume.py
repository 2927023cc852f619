"""Volume provider against the emulator: rent from a query, the marker in the name, what replaces,
a lost rent reply, delete refused while mounted, delete waiting until unlisted."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.unit.conftest import api_calls, assert_check_fails, checked_news, configured, seed_for
from vast_pulumi.emulator import Emulator
from vast_pulumi.errors import VastApiError
from vast_pulumi.volume import VolumeProvider, volume_offer_query

MARKER = "0123456789abcdef"
NAME = f"models_{MARKER[:8]}"
RENT = ("PUT", "/api/v0/volumes/")


def checked(provider: VolumeProvider, **changes: Any) -> dict[str, Any]:
    news = {"size": 50.0, "offer_query": "reliability>0.9", "name": NAME, "_marker": MARKER}
    return checked_news(provider, {**news, **changes})


@pytest.fixture
def provider(connect: Callable[[VolumeProvider], VolumeProvider]) -> VolumeProvider:
    return connect(VolumeProvider())


def volumes(emulator: Emulator) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = emulator.inventory()[0]["volumes"]
    return rows


def test_the_query_gets_the_clients_defaults_and_room_for_the_size() -> None:
    assert volume_offer_query("reliability>0.9", size=50) == {
        "verified": {"eq": True},
        "external": {"eq": False},
        "reliability": {"gt": "0.9"},
        "disk_space": {"gte": 50},
    }
    with pytest.raises(ValueError, match="gpu_name: not a volume offer field"):
        volume_offer_query("gpu_name=RTX_4090")


def test_create_rents_the_cheapest_matching_offer_named_with_the_marker(
    provider: VolumeProvider, emulator: Emulator
) -> None:
    query = {**volume_offer_query("reliability>0.9", size=50), "order": [["storage_cost", "asc"]]}
    cheapest = provider.client.search_volume_offers(query)[0]
    created = provider.create(checked(provider))
    (row,) = volumes(emulator)
    assert created.id == str(row["id"])
    assert (row["label"], row["disk_space"], row["machine_id"]) == (NAME, 50.0, cheapest["machine_id"])
    assert created.outs is not None
    assert (created.outs["volume_id"], created.outs["volume_name"], created.outs["size"]) == (
        row["id"],
        f"V.{row['id']}",
        50,
    )


def test_size_query_and_name_replace_order_does_not(provider: VolumeProvider) -> None:
    created = provider.create(checked(provider))
    assert created.outs is not None
    for change, field in (
        ({"size": 60.0}, "size"),
        ({"offer_query": "reliability>0.95"}, "offer_query"),
        ({"name": "renamed"}, "name"),
    ):
        diff = provider.diff(created.id, created.outs, checked(provider, **change))
        assert diff.replaces == [field]
        assert diff.delete_before_replace is True
    diff = provider.diff(created.id, created.outs, checked(provider, order="-reliability"))
    assert (diff.changes, diff.replaces) == (False, [])  # create only: a change alone does nothing
    assert (
        provider.diff(created.id, created.outs, checked(provider, offer_query="reliability > 0.9")).changes
        is False
    )


def test_a_create_adopts_the_volume_a_killed_run_left(provider: VolumeProvider, emulator: Emulator) -> None:
    first = provider.create(checked(provider))
    mark = len(emulator.request_log())
    again = provider.create(checked(provider))
    assert again.id == first.id
    assert RENT not in api_calls(emulator, mark)


def test_a_rent_answered_500_after_it_was_applied_is_found_not_repeated(
    vast_emulator_factory: Callable[..., Emulator],
) -> None:
    # Requests: the owner's id, the first look, the offer search, our rent (500 after), the look.
    emulator = vast_emulator_factory(
        seed=seed_for([False, False, False, True, False, False], 0.5), faults="500-after=0.5"
    )
    provider = configured(VolumeProvider(), emulator.url, emulator.api_keys[0])
    created = provider.create(checked(provider))
    emulator.set_faults(None)
    (row,) = volumes(emulator)
    assert created.id == str(row["id"])
    (faulted,) = [entry for entry in emulator.request_log() if entry["fault"]]
    assert (faulted["method"], faulted["route"], faulted["status"]) == ("PUT", "/api/v0/volumes/", 500)
    assert api_calls(emulator).count(RENT) == 1


def test_delete_fails_while_mounted_and_waits_until_unlisted(
    provider: VolumeProvider, emulator: Emulator
) -> None:
    created = provider.create(checked(provider))
    assert created.outs is not None
    account = emulator.backend.authenticate(emulator.api_keys[0])
    offer = next(iter(emulator.backend.state.offers))
    box = emulator.backend.create_instance(
        account,
        offer,
        {
            "image": "busybox",
            "volume_info": {"create_new": False, "volume_id": int(created.id), "mount_path": "/d"},
        },
    )
    with pytest.raises(VastApiError, match="in use by instances"):
        provider.delete(created.id, created.outs)
    emulator.backend.host_destroy_instance(int(box["new_contract"]))  # gone at once, not lingering
    provider.delete(created.id, created.outs)
    assert volumes(emulator) == []
    assert provider.read(created.id, created.outs).id is None


# -- check: bad input fails at preview, naming the field and the rule (no API call) -----------------

CHECKED_VOLUME = {"name": "v", "size": 10.0, "offer_query": "reliability>0.9"}
# (inputs, the property the failure names, words of the rule)
CHECK_FAILURES: list[tuple[dict[str, Any], str, str]] = [
    ({**CHECKED_VOLUME, "size": 0.0}, "size", "must be >= 1"),
    ({**CHECKED_VOLUME, "size": 2.5}, "size", "whole number"),
    ({"name": "v", "size": 10.0}, "offer_id", "set exactly one of offer_id, offer_query"),
    ({**CHECKED_VOLUME, "offer_id": 5.0}, "offer_id", "set only one of"),
    ({**CHECKED_VOLUME, "offer_query": "gpu_name=RTX_4090"}, "offer_query", "not a volume offer field"),
    ({**CHECKED_VOLUME, "offer_query": "disk_space>>1"}, "offer_query", "unknown operator"),
    ({**CHECKED_VOLUME, "order": "storage cost"}, "order", "not a field to order offers by"),
    ({**CHECKED_VOLUME, "order": "dph_total"}, "order", "name volume offer fields"),
]


@pytest.mark.parametrize(("news", "field", "rule"), CHECK_FAILURES)
def test_bad_input_fails_at_check_naming_the_field_and_the_rule(
    news: dict[str, Any], field: str, rule: str
) -> None:
    assert_check_fails(VolumeProvider, news, field, rule)
