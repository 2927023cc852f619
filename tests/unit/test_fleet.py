"""Fleet provider against the emulator: renting N members at once, spread, budget, health, scaling,
rollouts and delete."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import requests

from tests.emulator.conftest import ManualClock
from tests.unit.conftest import api_calls, checked_news, configured
from vast_pulumi import _teardown
from vast_pulumi._dynamic import failure_field
from vast_pulumi._instances import START_ATTEMPTS
from vast_pulumi._teardown import NotGoneError
from vast_pulumi.client import Row
from vast_pulumi.emulator import Emulator
from vast_pulumi.errors import VastAccountError, VastApiError, VastAuthError
from vast_pulumi.fleet import FleetBudgetError, FleetError, FleetProvider
from vast_pulumi.instance import MARKER_ENV
from vast_pulumi.offers import search_offers

QUERY = "num_gpus=1"
MARKER = "f1ee7f1ee7f1ee70"
RENT = ("PUT", "/api/v0/asks/{id}/")
LIST = ("GET", "/api/v1/instances/")
DESTROY = ("DELETE", "/api/v0/instances/{id}/")


@pytest.fixture(autouse=True)
def fresh_snapshots(quick_polls: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("vast_pulumi.client.SNAPSHOT_MAX_AGE", 0.0)  # as in a fresh `pulumi refresh`


@pytest.fixture
def provider(connect: Callable[[FleetProvider], FleetProvider]) -> FleetProvider:
    return connect(FleetProvider())


def checked(provider: FleetProvider, **changes: Any) -> dict[str, Any]:
    return checked_news(
        provider, {"count": 3, "offer_query": QUERY, "image": "pytorch/pytorch", "_marker": MARKER, **changes}
    )


def instances(emulator: Emulator) -> list[Row]:
    rows: list[Row] = emulator.inventory()[0]["instances"]
    return rows


def running(emulator: Emulator) -> list[Row]:
    return [row for row in instances(emulator) if row.get("actual_status") == "running"]


def env_of(row: Row) -> dict[str, str]:
    return {key: value for key, value in row["extra_env"]}


def parked(emulator: Emulator) -> int:
    """Requests the emulator's holds have parked so far (``GET /_emulator/hold``)."""
    holds = requests.get(f"{emulator.url}/_emulator/hold", timeout=10).json()["holds"]
    return sum(int(hold["parked"]) for hold in holds)


def wait_for(condition: Callable[[], bool], seen: Callable[[], str]) -> None:
    """Until ``condition`` holds; the deadline only stops a broken test from hanging, and ``seen``
    says what was there instead."""
    deadline = time.monotonic() + 60
    while not condition():
        assert time.monotonic() < deadline, f"never came true: {seen()}"
        time.sleep(0.01)


def create(provider: FleetProvider, **changes: Any) -> tuple[str, dict[str, Any], dict[str, Any]]:
    news = checked(provider, **changes)
    created = provider.create(news)
    assert created.outs is not None
    return created.id, news, created.outs


# -- check -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "field", "rule"),
    [
        ({"count": -1}, "count", "must be >= 0 and <= 128"),
        ({"count": None}, "count", "is required"),
        ({"offer_query": None, "offer_id": 7}, "offer_id", "one offer is one machine"),
        ({"offer_query": None}, "offer_query", "is required"),
        ({"label": "x"}, "label", "use label_prefix"),
        ({"spread": "rack"}, "spread", "must be 'machine', 'host' or 'none'"),
        ({"max_dph_total": 0}, "max_dph_total", "must be > 0"),
        ({"rollout": {"max_surge": 0, "max_unavailable": 0}}, "rollout", "cannot both be 0"),
        ({"rollout": {"max_surge": -1}}, "rollout", "max_surge"),
        ({"image": None}, "image", "set exactly one of image, template_hash_id"),
        ({"offer_query": "gpu_name=="}, "offer_query", ""),
    ],
)
def test_bad_input_fails_at_check_naming_the_field_and_the_rule(
    changes: dict[str, Any], field: str, rule: str
) -> None:
    inputs = {"count": 3, "offer_query": QUERY, "image": "img", **changes}
    failures = FleetProvider().check({}, {k: v for k, v in inputs.items() if v is not None}).failures
    assert [failure_field(failure) for failure in failures] == [field]
    assert rule in failures[0].reason


# -- create ----------------------------------------------------------------------------------------------


def test_create_rents_every_member_on_distinct_machines(provider: FleetProvider, emulator: Emulator) -> None:
    mark = len(emulator.request_log())
    fleet_id, _, outs = create(provider, count=4, label_prefix="w", env={"A": "1"})
    rows = instances(emulator)
    assert fleet_id == MARKER
    assert len(rows) == 4 and all(row["actual_status"] == "running" for row in rows)
    assert len({row["machine_id"] for row in rows}) == 4
    assert sorted(outs["instance_ids"]) == sorted(row["id"] for row in rows)
    assert outs["ready_count"] == 4
    assert outs["dph_total"] == pytest.approx(sum(row["dph_total"] for row in rows))
    assert sorted(row["label"] for row in rows) == ["w-0", "w-1", "w-2", "w-3"]
    markers = sorted(env_of(row)[MARKER_ENV] for row in rows)
    assert all(marker.startswith(f"{MARKER}-") for marker in markers) and len(set(markers)) == 4
    assert all(env_of(row)["A"] == "1" for row in rows)
    assert [m["healthy"] for m in outs["members"]] == [True] * 4
    assert all(m["ssh"] and m["ssh"].startswith("ssh -p ") for m in outs["members"])
    assert api_calls(emulator, mark).count(RENT) == 4


def test_every_member_is_rented_at_once_all_rents_in_flight_together(
    provider: FleetProvider, emulator: Emulator
) -> None:
    # The first create's two rents teach the client that the emulator does not limit the rent route
    # (a fresh client probes a route with one call in flight: see vast_pulumi._pacing).
    fleet_id, news, outs = create(provider, count=2)
    mark = len(emulator.request_log())
    # Rents are held before they reach the API: an update renting one member after another would
    # park one rent and wait for its answer, never the six at once this waits for.
    hold = {"method": "PUT", "route": RENT[1], "stage": "before"}
    assert requests.put(f"{emulator.url}/_emulator/hold", json=hold, timeout=10).status_code == 200
    with ThreadPoolExecutor(max_workers=1) as pool:
        scaled = pool.submit(provider.update, fleet_id, outs, {**news, "count": 8})
        try:
            wait_for(
                lambda: parked(emulator) == 6 or scaled.done(),
                lambda: f"{parked(emulator)} of the 6 rents in flight at once",
            )
            # All six in flight at once, none answered yet.
            assert parked(emulator) == 6 and RENT not in api_calls(emulator, mark)
        finally:
            assert requests.delete(f"{emulator.url}/_emulator/hold", timeout=10).status_code == 200
        updated = scaled.result(timeout=60).outs
    assert updated is not None and updated["ready_count"] == 8
    assert api_calls(emulator, mark).count(RENT) == 6


def test_spread_by_host_puts_no_two_members_on_one_host(provider: FleetProvider, emulator: Emulator) -> None:
    create(provider, count=3, spread="host")
    hosts = [row["host_id"] for row in instances(emulator)]
    assert len(hosts) == 3 and len(set(hosts)) == 3


def test_a_create_killed_after_renting_is_adopted_not_duplicated(
    provider: FleetProvider, emulator: Emulator
) -> None:
    create(provider, count=2)
    first = {row["id"] for row in instances(emulator)}
    # A second create (the state never recorded the first) adopts both and rents one more.
    _, _, outs = create(provider, count=3)
    assert first <= set(outs["instance_ids"]) and len(outs["instance_ids"]) == 3
    assert len(instances(emulator)) == 3


def test_budget_refusal_rents_nothing(provider: FleetProvider, emulator: Emulator) -> None:
    cheapest = sorted(o.dph_total or 0 for o in search_offers(provider.client, QUERY, limit=64))[:3]
    with pytest.raises(FleetBudgetError, match=r"max_dph_total: the cheapest 3 new member\(s\) cost"):
        create(provider, max_dph_total=sum(cheapest) * 0.9)
    assert RENT not in api_calls(emulator)
    assert instances(emulator) == []


def test_over_budget_after_renting_destroys_what_was_rented(
    provider: FleetProvider, emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The offers claim to be free; the hosts price the rented instances as usual.
    monkeypatch.setattr("vast_pulumi.fleet._offer_price", lambda inputs, offer: 0.0)
    with pytest.raises(FleetBudgetError, match=r"the 3 member\(s\) rented cost \$.*over the budget") as error:
        create(provider, max_dph_total=0.01)
    assert "were destroyed, so nothing is left billing" in str(error.value)
    assert api_calls(emulator).count(RENT) == 3
    assert instances(emulator) == []


def failing_starts(
    provider: FleetProvider,
    emulator: Emulator,
    monkeypatch: pytest.MonkeyPatch,
    fails: Callable[[int], bool],
    status: tuple[str, str] = ("created", "OCI runtime create failed: device busy"),
) -> list[int]:
    """Make the n-th rent (from 1) report ``status`` at once when ``fails(n)``; returns the rented ids.
    The default is a machine that never starts the instance (a double rent)."""
    real = provider.client.create_instance
    rented: list[int] = []

    def create_instance(offer_id: int, body: dict[str, Any]) -> dict[str, Any]:
        reply = real(offer_id, body)
        rented.append(int(reply["new_contract"]))
        if fails(len(rented)):
            emulator.backend.host_set_status(rented[-1], *status)
        return reply

    monkeypatch.setattr(provider.client, "create_instance", create_instance)
    return rented


def test_a_member_whose_machine_never_starts_it_is_destroyed_and_rented_again_elsewhere(
    provider: FleetProvider, emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    rented = failing_starts(provider, emulator, monkeypatch, lambda n: n == 2)
    _, _, outs = create(provider)
    rows = instances(emulator)
    assert len(rented) == 4 and rented[1] not in {row["id"] for row in rows}
    assert sorted(outs["instance_ids"]) == sorted(row["id"] for row in rows) and len(rows) == 3
    assert len({row["machine_id"] for row in rows}) == 3 and outs["ready_count"] == 3


def test_a_member_whose_machines_never_start_it_fails_the_create_and_leaves_nothing(
    provider: FleetProvider, emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    rented = failing_starts(provider, emulator, monkeypatch, lambda n: n != 1)
    with pytest.raises(FleetError, match=r"failed to become running.*3 rents in a row never started"):
        create(provider, count=2)
    assert len(rented) == 1 + START_ATTEMPTS
    assert instances(emulator) == []


def test_a_member_whose_container_fails_is_destroyed_and_fails_the_create_without_another_rent(
    provider: FleetProvider, emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A container that started and exited would fail on every machine: as for an Instance, no retry.
    exited = ("exited", "container exited")
    rented = failing_starts(provider, emulator, monkeypatch, lambda n: n == 1, status=exited)
    with pytest.raises(FleetError, match=r"failed to become running.*was destroyed"):
        create(provider, count=2)
    assert len(rented) == 2 and api_calls(emulator).count(RENT) == 2
    assert instances(emulator) == []


def test_a_member_rented_with_price_that_reads_back_on_demand_is_destroyed_and_the_create_fails(
    provider: FleetProvider, emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    rent = provider.client.create_instance
    rented: list[int] = []

    def rent_dropping_the_bid(offer_id: int, body: Any) -> Row:  # a server that ignores price
        reply = rent(offer_id, {key: value for key, value in body.items() if key != "price"})
        rented.append(int(reply["new_contract"]))
        return reply

    monkeypatch.setattr(provider.client, "create_instance", rent_dropping_the_bid)
    with pytest.raises(FleetError, match=r"price=5 but reads back as on-demand.*destroyed"):
        create(provider, count=2, price=5.0)
    calls = emulator.request_log()
    destroyed = {
        int(c["path"].split("/")[-2]) for c in calls if c["route"] == DESTROY[1] and c["method"] == "DELETE"
    }
    assert len(rented) == 2 and destroyed >= set(rented)  # both rented on-demand, both destroyed
    assert api_calls(emulator).count(RENT) == 2  # not rented again: the server would drop the bid again
    assert instances(emulator) == []


# -- read, heal, scale, roll out, delete -----------------------------------------------------------------


def test_refresh_shows_members_destroyed_out_of_band_and_up_replaces_exactly_those(
    provider: FleetProvider, emulator: Emulator
) -> None:
    fleet_id, news, outs = create(provider, count=4)
    lost = outs["instance_ids"][:2]
    for instance_id in lost:
        emulator.backend.host_destroy_instance(instance_id)
    mark = len(emulator.request_log())
    read = provider.read(fleet_id, outs)
    assert api_calls(emulator, mark).count(LIST) == 1
    assert read.outs is not None
    gone = [m["id"] for m in read.outs["members"] if not m["healthy"]]
    assert sorted(gone) == sorted(lost) and read.outs["ready_count"] == 2
    assert provider.diff(fleet_id, read.outs, news).changes is True
    updated = provider.update(fleet_id, read.outs, news).outs
    assert updated is not None
    kept = set(outs["instance_ids"]) - set(lost)
    assert kept <= set(updated["instance_ids"]) and len(updated["instance_ids"]) == 4
    assert api_calls(emulator, mark).count(RENT) == 2
    assert provider.diff(fleet_id, updated, news).changes is False


def test_outputs_stay_by_member_index_after_a_refresh_finds_a_member_gone(
    provider: FleetProvider, emulator: Emulator
) -> None:
    fleet_id, _, outs = create(provider, count=3)
    ids, ssh = outs["instance_ids"], outs["ssh_commands"]
    emulator.backend.host_destroy_instance(ids[1])
    read = provider.read(fleet_id, outs).outs
    assert read is not None
    # Not compacted: member 2 is still at position 2 (the docs promise "by member index").
    assert read["instance_ids"] == [ids[0], None, ids[2]]
    assert read["ssh_commands"] == [ssh[0], None, ssh[2]]
    assert read["machine_ids"][1] is None and read["machine_ids"][2] == outs["machine_ids"][2]


def test_an_exited_member_is_destroyed_and_replaced(provider: FleetProvider, emulator: Emulator) -> None:
    fleet_id, news, outs = create(provider, count=3)
    sick = outs["instance_ids"][0]
    emulator.backend.host_set_status(sick, "exited", "preempted")
    read = provider.read(fleet_id, outs).outs
    assert read is not None and read["ready_count"] == 2
    updated = provider.update(fleet_id, read, news).outs
    assert updated is not None and sick not in updated["instance_ids"]
    assert sick not in {row["id"] for row in instances(emulator)}
    assert len(running(emulator)) == 3


def test_scale_down_removes_the_most_expensive_then_up_again(
    provider: FleetProvider, emulator: Emulator
) -> None:
    fleet_id, news, outs = create(provider, count=5)
    prices = {m["id"]: m["dph_total"] for m in outs["members"]}
    down = provider.update(fleet_id, outs, {**news, "count": 3}).outs
    assert down is not None and len(instances(emulator)) == 3
    assert sorted(prices[i] for i in down["instance_ids"]) == sorted(prices.values())[:3]
    up = provider.update(fleet_id, down, {**news, "count": 5}).outs
    assert up is not None and len(up["instance_ids"]) == 5 and len(running(emulator)) == 5
    assert set(down["instance_ids"]) <= set(up["instance_ids"])


def test_in_place_fields_update_every_member_without_renting(
    provider: FleetProvider, emulator: Emulator
) -> None:
    fleet_id, news, outs = create(provider, count=3, label_prefix="a")
    mark = len(emulator.request_log())
    updated = provider.update(fleet_id, outs, {**news, "label_prefix": "b", "env": {"X": "2"}}).outs
    assert updated is not None and sorted(updated["instance_ids"]) == sorted(outs["instance_ids"])
    rows = instances(emulator)
    assert sorted(row["label"] for row in rows) == ["b-0", "b-1", "b-2"]
    assert all(env_of(row)["X"] == "2" and env_of(row)[MARKER_ENV].startswith(MARKER) for row in rows)
    assert RENT not in api_calls(emulator, mark)


def test_stopping_the_fleet_stops_every_member_in_place(provider: FleetProvider, emulator: Emulator) -> None:
    fleet_id, news, outs = create(provider, count=2)
    stopped = provider.update(fleet_id, outs, {**news, "target_state": "stopped"}).outs
    assert stopped is not None and sorted(stopped["instance_ids"]) == sorted(outs["instance_ids"])
    assert [row["intended_status"] for row in instances(emulator)] == ["stopped", "stopped"]
    assert provider.diff(fleet_id, stopped, {**news, "target_state": "stopped"}).changes is False


def test_an_image_change_rolls_out_within_surge_and_unavailability(
    provider: FleetProvider, emulator: Emulator
) -> None:
    rollout = {"max_unavailable": 1, "max_surge": 2}
    fleet_id, news, outs = create(provider, count=4, rollout=rollout)
    samples: list[tuple[int, int]] = []
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            rows = instances(emulator)
            samples.append((len(rows), sum(1 for r in rows if r.get("actual_status") == "running")))
            done.wait(0.02)

    sampler = threading.Thread(target=sample)
    sampler.start()
    try:
        updated = provider.update(fleet_id, outs, {**news, "image": "vastai/base-image"}).outs
    finally:
        done.set()
        sampler.join()
    assert updated is not None
    rows = instances(emulator)
    assert len(rows) == 4 and all(row["image_uuid"] == "vastai/base-image" for row in rows)
    assert not set(outs["instance_ids"]) & set(updated["instance_ids"])
    assert samples and min(up for _, up in samples) >= 3
    assert max(total for total, _ in samples) <= 6


def test_delete_destroys_every_member_and_waits_until_none_is_listed(
    provider: FleetProvider, emulator: Emulator
) -> None:
    fleet_id, _, outs = create(provider, count=3)
    provider.delete(fleet_id, outs)
    assert instances(emulator) == []
    assert provider.client.cached_instances(0) == []


def test_delete_also_destroys_a_member_no_state_records(provider: FleetProvider, emulator: Emulator) -> None:
    fleet_id, _, outs = create(provider, count=2)
    create(provider, count=3)  # adopts the two, rents a third the first outputs do not record
    provider.delete(fleet_id, outs)
    assert instances(emulator) == []


def test_a_rent_answered_500_after_it_was_applied_is_adopted_not_repeated(
    provider: FleetProvider, emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = provider.client.create_instance
    answered: list[int] = []

    def create_instance(offer_id: int, body: dict[str, Any]) -> dict[str, Any]:
        reply = real(offer_id, body)  # applied...
        answered.append(int(reply["new_contract"]))
        if len(answered) == 1:  # ...and, the first time, answered as a server error
            raise VastApiError(method="PUT", path=f"/api/v0/asks/{offer_id}/", status=500, msg="boom")
        return reply

    monkeypatch.setattr(provider.client, "create_instance", create_instance)
    _, _, outs = create(provider, count=3)
    assert len(answered) == 3  # the member whose answer was lost was found by its marker
    assert (
        sorted(outs["instance_ids"]) == sorted(answered) == sorted(row["id"] for row in instances(emulator))
    )


def test_too_few_machines_for_the_spread_fails_before_renting(
    provider: FleetProvider, emulator: Emulator
) -> None:
    offers = search_offers(provider.client, "gpu_name=RTX_4090 num_gpus=1", limit=64)
    machines = len({offer.machine_id for offer in offers})
    needed = rf"only {machines} offer\(s\) match .*one member per machine\); {machines + 1} are needed"
    with pytest.raises(FleetError, match=needed):
        create(provider, count=machines + 1, offer_query="gpu_name=RTX_4090 num_gpus=1")
    assert RENT not in api_calls(emulator)


def test_delete_waits_for_an_asynchronous_destroy(vast_emulator_factory: Callable[..., Emulator]) -> None:
    emulator = vast_emulator_factory(seed=2, boot_seconds=0.2, destroy_seconds=1.0)
    provider = configured(FleetProvider(), emulator.url, emulator.api_keys[0])
    fleet_id, _, outs = create(provider, count=2)
    provider.delete(fleet_id, outs)
    assert instances(emulator) == []  # listed no more when delete returns
    destroys = [c for c in api_calls(emulator) if c == ("DELETE", "/api/v0/instances/{id}/")]
    assert len(destroys) == 2


def test_delete_fails_naming_members_still_listed_after_the_shared_bound(
    vast_emulator_factory: Callable[..., Emulator], monkeypatch: pytest.MonkeyPatch
) -> None:
    emulator = vast_emulator_factory(seed=2, boot_seconds=0.2)
    provider = configured(FleetProvider(), emulator.url, emulator.api_keys[0])
    fleet_id, _, outs = create(provider, count=2)
    emulator.backend.clock = lambda: 1_800_000_000.0  # the emulator's time stands still: no destroy ends
    monkeypatch.setattr(_teardown, "DELETE_TIMEOUT", 0.3)  # the bound every delete shares
    members = sorted(int(i) for i in outs["instance_ids"])
    with pytest.raises(NotGoneError, match=r"2 of its 2 members are not gone") as error:
        provider.delete(fleet_id, outs)
    for member in members:  # every member is named, not the first only
        assert f"member {member} (still listed after 0.3 s)" in str(error.value)
    assert sorted(row["id"] for row in instances(emulator)) == members  # may still bill: not forgotten


def test_a_key_of_another_account_fails_read_update_and_delete_and_touches_nothing(
    vast_emulator_factory: Callable[..., Emulator],
) -> None:
    emulator = vast_emulator_factory(api_keys=["owner-key", "other-key"], boot_seconds=0.1)
    owner = configured(FleetProvider(), emulator.url, "owner-key")
    fleet_id, news, outs = create(owner, count=2)
    stranger = configured(FleetProvider(), emulator.url, "other-key")
    engine_outs = {**outs, "account_id": float(outs["account_id"])}
    # Time stands still from here: rows carry time-derived fields (uptime_mins), and only the
    # stranger's calls may change what the inventory holds.
    emulator.backend.clock = ManualClock(emulator.backend.clock())
    before = emulator.inventory()
    for attempt in (
        lambda: stranger.read(fleet_id, engine_outs),
        lambda: stranger.update(fleet_id, engine_outs, {**news, "count": 1}),
        lambda: stranger.delete(fleet_id, engine_outs),
    ):
        with pytest.raises(VastAccountError, match=f"fleet {fleet_id} belongs to Vast.ai account"):
            attempt()
    assert emulator.inventory() == before


def test_a_rejected_key_fails_refresh_instead_of_showing_members_gone(
    provider: FleetProvider, emulator: Emulator
) -> None:
    fleet_id, _, outs = create(provider, count=2)
    revoked = configured(FleetProvider(), emulator.url, "not-a-key")
    with pytest.raises(VastAuthError):
        revoked.read(fleet_id, outs)
    with pytest.raises(VastAuthError):
        revoked.delete(fleet_id, outs)
    assert len(instances(emulator)) == 2
