"""Instance provider lifecycle against the emulator: renting, waiting, failing cleanly, updating,
refreshing, and never renting twice."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

from tests.unit.conftest import api_calls, assert_check_fails, configured, faulted_calls, seed_for
from vast_pulumi import _teardown
from vast_pulumi._teardown import NotGoneError
from vast_pulumi.client import Row, route_template
from vast_pulumi.emulator import Emulator
from vast_pulumi.errors import AdoptError, VastApiError
from vast_pulumi.instance import MARKER_ENV, InstanceNotReadyError, InstanceProvider, ssh_command
from vast_pulumi.offers import search_offers

QUERY = "gpu_name=RTX_4090 num_gpus=1"
MARKER = "feedfacecafebeef"
RENT = ("PUT", "/api/v0/asks/{id}/")
LIST = ("GET", "/api/v1/instances/")


@pytest.fixture(autouse=True)
def quick_polls(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("vast_pulumi._instances.POLL_SECONDS", 0.1)


@pytest.fixture
def provider(connect: Callable[[InstanceProvider], InstanceProvider]) -> InstanceProvider:
    return connect(InstanceProvider())


def checked(provider: InstanceProvider, **changes: Any) -> dict[str, Any]:
    inputs = {"offer_query": QUERY, "image": "pytorch/pytorch", "disk": 16.0, "_marker": MARKER, **changes}
    result = provider.check({}, {"__provider": "blob", **inputs})
    assert result.failures == []
    return {**result.inputs, "__provider": "blob"}


def instances(emulator: Emulator) -> list[Row]:
    rows: list[Row] = emulator.inventory()[0]["instances"]
    return rows


def live(emulator: Emulator) -> list[Row]:
    """The listed instances not being destroyed (destroy is asynchronous: a destroyed instance stays
    listed a while, ``next_state`` "unloaded")."""
    return [row for row in instances(emulator) if row["next_state"] != "unloaded"]


def env_of(row: Row) -> dict[str, str]:
    return {key: value for key, value in row["extra_env"]}


def test_create_rents_the_cheapest_match_and_waits_until_running(
    provider: InstanceProvider, emulator: Emulator
) -> None:
    cheapest = search_offers(provider.client, QUERY, order="dph_total", limit=1, disk=16.0)[0]
    mark = len(emulator.request_log())
    created = provider.create(checked(provider, env={"A": "1", "-p 8000:8000": "1"}))
    (row,) = instances(emulator)
    outs = created.outs
    assert outs is not None
    assert created.id == str(row["id"])
    assert outs["offer_id"] == cheapest.id
    assert outs["actual_status"] == row["actual_status"] == "running"
    assert (outs["ssh_host"], outs["ssh_port"]) == (row["ssh_host"], row["ssh_port"])
    assert outs["ports"] == {port: bindings[0]["HostPort"] for port, bindings in row["ports"].items()}
    assert set(outs["ports"]) == {"22/tcp", "8000/tcp"}
    assert (outs["gpu_name"], outs["num_gpus"]) == ("RTX 4090", 1)
    assert outs["instance_api_key"] == emulator.instance_api_key(int(created.id))
    assert outs["env"] == {"A": "1", "-p 8000:8000": "1"}  # as given: the marker is ours
    assert env_of(row)[MARKER_ENV] == MARKER
    assert api_calls(emulator, mark).count(RENT) == 1
    assert ("GET", "/api/v0/instances/{id}/") not in api_calls(emulator, mark)


def test_a_large_disk_rents_the_cheapest_offer_with_room_for_it_priced_with_it(
    vast_emulator_factory: Callable[..., Emulator],
) -> None:
    emulator = vast_emulator_factory(seed=3, boot_seconds=0.3)
    provider = configured(InstanceProvider(), emulator.url, emulator.api_keys[0])
    cheapest_small = search_offers(provider.client, QUERY, limit=1)[0]
    cheapest_large = search_offers(provider.client, QUERY, limit=1, disk=1200.0)[0]
    # The market makes the difference visible: at 10 GB the cheapest machine has too little disk.
    assert cheapest_small.disk_space is not None and cheapest_small.disk_space < 1200
    assert cheapest_large.disk_space is not None and cheapest_large.disk_space >= 1200
    created = provider.create(checked(provider, disk=1200.0))
    assert created.outs is not None
    assert created.outs["offer_id"] == cheapest_large.id


def test_diff_after_create_is_clean(provider: InstanceProvider, emulator: Emulator) -> None:
    news = checked(provider)
    created = provider.create(news)
    assert created.outs is not None
    mark = len(emulator.request_log())
    assert provider.diff(created.id, created.outs, news).changes is False
    assert api_calls(emulator, mark) == []


def test_an_offer_taken_meanwhile_moves_on_to_the_next(
    provider: InstanceProvider, emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Someone rents the best offer between our search and our rent.
    best = search_offers(provider.client, QUERY, limit=1)[0]
    provider.client.create_instance(best.id, {"image": "someone-else"})
    real_search = provider.client.search_offers
    monkeypatch.setattr(
        provider.client, "search_offers", lambda query: [best.model_dump(), *real_search(query)]
    )
    created = provider.create(checked(provider))
    assert created.outs is not None and created.outs["offer_id"] != best.id
    assert len(instances(emulator)) == 2


def test_a_taken_pinned_offer_fails_clearly(provider: InstanceProvider, emulator: Emulator) -> None:
    best = search_offers(provider.client, QUERY, limit=1)[0]
    provider.client.create_instance(best.id, {"image": "someone-else"})
    pinned = checked(provider, offer_query=None, offer_id=float(best.id))
    with pytest.raises(RuntimeError, match=f"could not rent any of the 1 offers tried \\(offer {best.id}\\)"):
        provider.create(pinned)
    assert len(instances(emulator)) == 1


def test_no_matching_offer_fails_before_renting(provider: InstanceProvider, emulator: Emulator) -> None:
    with pytest.raises(RuntimeError, match="no offer matches"):
        provider.create(checked(provider, offer_query="num_gpus>64"))
    assert RENT not in api_calls(emulator)


# Requests of a create: the owner's id, the marker lookup, the search, the rent, the lookup after it.
BEFORE_RENT = [False, False, False]


@pytest.mark.parametrize("fault", ["reset-after", "500-after"])
def test_a_rent_applied_but_answered_with_no_reply_or_500_adopts_the_instance_and_rents_nothing_else(
    vast_emulator_factory: Callable[..., Emulator], fault: str
) -> None:
    emulator = vast_emulator_factory(
        seed=seed_for([*BEFORE_RENT, True] + [False] * 12, 0.3), faults=f"{fault}=0.3"
    )
    provider = configured(InstanceProvider(), emulator.url, emulator.api_keys[0])
    created = provider.create(checked(provider))
    emulator.set_faults(None)
    assert faulted_calls(emulator) == [(*RENT, fault)]
    (row,) = instances(emulator)
    assert created.id == str(row["id"])
    assert api_calls(emulator).count(RENT) == 1


def test_a_rent_answered_500_and_not_applied_rents_the_same_offer_again_not_the_next(
    vast_emulator_factory: Callable[..., Emulator],
) -> None:
    emulator = vast_emulator_factory(
        seed=seed_for([*BEFORE_RENT, True] + [False] * 12, 0.3), faults="500=0.3"
    )
    provider = configured(InstanceProvider(), emulator.url, emulator.api_keys[0])
    created = provider.create(checked(provider))
    emulator.set_faults(None)
    assert faulted_calls(emulator) == [(*RENT, "500")]
    rents = [e["path"] for e in emulator.request_log() if route_template(e["path"]) == RENT[1]]
    assert len(rents) == 2 and rents[0] == rents[1]
    calls = [(e["method"], route_template(e["path"])) for e in emulator.request_log()]
    first_rent = calls.index(RENT)
    assert calls[first_rent + 1 : first_rent + 3] == [LIST, RENT]  # looked by marker before renting again
    (row,) = instances(emulator)
    assert created.id == str(row["id"])


def test_an_instance_with_our_marker_being_destroyed_is_not_adopted(
    provider: InstanceProvider, emulator: Emulator
) -> None:
    offer = search_offers(provider.client, QUERY, limit=1)[0]
    dying = int(
        provider.client.create_instance(offer.id, {"image": "pytorch/pytorch", "env": {MARKER_ENV: MARKER}})[
            "new_contract"
        ]
    )
    emulator.backend.drift("instances", dying, {"actual_status": "destroying"})
    created = provider.create(checked(provider))
    assert created.id != str(dying)
    assert api_calls(emulator).count(RENT) == 2


def test_an_instance_this_process_destroyed_is_not_adopted_even_if_still_listed_as_running(
    provider: InstanceProvider, emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A replacement destroys the old instance (same marker) first; the API may list it a while longer.
    old = provider.create(checked(provider))
    listed_before = [dict(row) for row in instances(emulator)]
    provider.delete(old.id, {**(old.outs or {}), "__provider": "blob"})
    real_list = provider.client.cached_instances
    monkeypatch.setattr(
        provider.client,
        "cached_instances",
        lambda max_age=None: [*listed_before, *(r for r in real_list(max_age) if str(r["id"]) != old.id)],
    )
    new = provider.create(checked(provider))
    assert new.id != old.id
    assert [row["id"] for row in instances(emulator)] == [int(new.id)]


def test_an_older_instance_with_our_marker_seen_only_after_the_rent_is_kept_and_ours_destroyed(
    provider: InstanceProvider, emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    offer = search_offers(provider.client, QUERY, order="dph_total", limit=8)[-1]
    earlier = int(
        provider.client.create_instance(offer.id, {"image": "pytorch/pytorch", "env": {MARKER_ENV: MARKER}})[
            "new_contract"
        ]
    )
    real_list = provider.client.cached_instances
    looks: list[int] = []

    def lagging(max_age: float | None = None) -> list[Row]:
        looks.append(1)  # the first look (before renting) does not show the earlier rent yet
        return [row for row in real_list(max_age) if len(looks) > 1 or row["id"] != earlier]

    monkeypatch.setattr(provider.client, "cached_instances", lagging)
    created = provider.create(checked(provider))
    assert created.id == str(earlier)
    assert [row["id"] for row in live(emulator)] == [earlier]  # the new rent is being destroyed
    assert api_calls(emulator).count(RENT) == 2


def test_an_offer_is_claimed_only_when_tried_and_released_when_the_rent_is_refused(
    provider: InstanceProvider, monkeypatch: pytest.MonkeyPatch
) -> None:
    from vast_pulumi import _instances as instance

    claims = instance._OfferClaims()
    monkeypatch.setattr(instance, "_CLAIMS", claims)
    taken = list(range(900_001, 900_011))  # ten offers that no longer exist
    monkeypatch.setattr(instance.InstanceOps, "candidates", lambda ops, inputs: iter(taken))
    with pytest.raises(
        RuntimeError, match=f"could not rent any of the {instance.OFFER_ATTEMPTS} offers tried"
    ):
        provider.create(checked(provider))
    market = provider.client.settings.api_url
    assert claims._claimed == {(market, offer) for offer in taken[: instance.OFFER_ATTEMPTS]}

    refused = VastApiError(method="PUT", path="/x/", status=400, error="invalid_args", msg="no")

    def refuse(offer_id: int, body: Any) -> Any:
        raise refused

    monkeypatch.setattr(provider.client, "create_instance", refuse)
    monkeypatch.setattr(instance.InstanceOps, "candidates", lambda ops, inputs: iter([900_100]))
    with pytest.raises(VastApiError, match="invalid_args"):
        provider.create(checked(provider, _marker="0000000000000001"))
    assert (market, 900_100) not in claims._claimed


def test_an_instance_left_by_an_interrupted_run_is_adopted_not_rented_again(
    provider: InstanceProvider, emulator: Emulator
) -> None:
    offer = search_offers(provider.client, QUERY, limit=1)[0]
    left = provider.client.create_instance(
        offer.id, {"image": "pytorch/pytorch", "env": {MARKER_ENV: MARKER}}
    )
    mark = len(emulator.request_log())
    created = provider.create(checked(provider))
    assert created.id == str(left["new_contract"])
    assert RENT not in api_calls(emulator, mark)
    assert len(instances(emulator)) == 1


def fail_when_rented(emulator: Emulator, status: str, message: str) -> threading.Thread:
    """Once an instance exists (and before it boots), make its host report ``status``."""

    def watch() -> None:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            rows = instances(emulator)
            if rows:
                emulator.backend.host_set_status(int(rows[0]["id"]), status, message)
                return
            time.sleep(0.01)

    thread = threading.Thread(target=watch)
    thread.start()
    return thread


@pytest.mark.parametrize(
    ("status", "message"),
    [
        ("exited", "container exited"),
        ("loading", "Error response from daemon: pull access denied"),
        ("offline", ""),
    ],
)
def test_a_failed_start_destroys_the_instance_before_raising(
    vast_emulator_factory: Callable[..., Emulator], status: str, message: str
) -> None:
    emulator = vast_emulator_factory(boot_seconds=30)
    provider = configured(InstanceProvider(), emulator.url, emulator.api_keys[0])
    watcher = fail_when_rented(emulator, status, message)
    with pytest.raises(InstanceNotReadyError, match="failed to become running") as caught:
        provider.create(checked(provider))
    watcher.join()
    assert "was destroyed, so nothing is left billing" in str(caught.value)
    assert instances(emulator) == []  # the create waited until the destroy was done


def test_a_start_that_times_out_destroys_the_instance(vast_emulator_factory: Callable[..., Emulator]) -> None:
    # The emulator's time stands still, so no boot ends; nor would an asynchronous destroy: immediate.
    emulator = vast_emulator_factory(boot_seconds=1, destroy_seconds=0)
    emulator.backend.clock = lambda: 1_800_000_000.0
    provider = configured(InstanceProvider(), emulator.url, emulator.api_keys[0])
    with pytest.raises(InstanceNotReadyError, match=r"was not running after 0.5 s \(not started yet\)"):
        provider.create(checked(provider, ready_timeout=0.5))
    assert instances(emulator) == []
    assert [call for call in api_calls(emulator) if call[0] != "GET"][-1] == (
        "DELETE",
        "/api/v0/instances/{id}/",
    )


def test_without_waiting_create_returns_at_once(vast_emulator_factory: Callable[..., Emulator]) -> None:
    emulator = vast_emulator_factory(boot_seconds=30)
    provider = configured(InstanceProvider(), emulator.url, emulator.api_keys[0])
    created = provider.create(checked(provider, wait_until_ready=False))
    assert created.outs is not None and created.outs["actual_status"] in (None, "loading")


def test_refresh_of_many_instances_costs_a_list_call_per_25(
    provider: InstanceProvider, emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    offers = search_offers(provider.client, "num_gpus=1", limit=30)
    rented = [provider.client.create_instance(o.id, {"image": "img"})["new_contract"] for o in offers[:30]]
    assert len(rented) == 30
    fresh = configured(InstanceProvider(), emulator.url, emulator.api_keys[0])
    mark = len(emulator.request_log())
    results: list[Any] = []
    threads = [
        threading.Thread(
            target=lambda i=i: results.append(fresh.read(str(i), {"offer_id": 1, "image": "img"}))
        )
        for i in rented
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(int(r.id) for r in results) == sorted(rented)
    assert api_calls(emulator, mark) == [("GET", "/api/v0/users/current/"), LIST, LIST]


def test_read_of_an_instance_destroyed_out_of_band_says_gone(
    provider: InstanceProvider, emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("vast_pulumi.client.SNAPSHOT_MAX_AGE", 0.0)  # as in a fresh `pulumi refresh`
    created = provider.create(checked(provider))
    assert created.outs is not None
    emulator.backend.host_destroy_instance(int(created.id))
    read = provider.read(created.id, created.outs)
    assert (read.id, read.outs) == (None, {})


def test_read_after_create_keeps_outputs_and_inputs(provider: InstanceProvider) -> None:
    created = provider.create(checked(provider))
    assert created.outs is not None
    read = provider.read(created.id, created.outs)
    assert (read.outs, read.inputs) == (created.outs, None)


def test_label_and_state_update_in_place(provider: InstanceProvider, emulator: Emulator) -> None:
    created = provider.create(checked(provider))
    assert created.outs is not None
    news = checked(provider, label="renamed", target_state="stopped")
    assert provider.diff(created.id, created.outs, news).replaces == []
    mark = len(emulator.request_log())
    updated = provider.update(created.id, created.outs, news)
    assert updated.outs is not None
    (row,) = instances(emulator)
    assert (row["label"], row["intended_status"], row["actual_status"]) == ("renamed", "stopped", "stopped")
    assert (updated.outs["label"], updated.outs["actual_status"]) == ("renamed", "stopped")
    assert updated.outs["instance_api_key"] == created.outs["instance_api_key"]
    assert api_calls(emulator, mark).count(("PUT", "/api/v0/instances/{id}/")) == 2
    assert RENT not in api_calls(emulator, mark)


def test_env_and_args_update_in_place_and_keep_the_marker(
    provider: InstanceProvider, emulator: Emulator
) -> None:
    created = provider.create(checked(provider))
    assert created.outs is not None
    news = checked(provider, env={"B": "2"}, args_str="--serve now", onstart="echo hi")
    assert provider.diff(created.id, created.outs, news).replaces == []
    updated = provider.update(created.id, created.outs, news)
    (row,) = instances(emulator)
    assert row["id"] == int(created.id)
    assert (row["image_args"], row["onstart"], row["actual_status"]) == (
        ["--serve", "now"],
        "echo hi",
        "running",
    )
    assert env_of(row) == {"B": "2", MARKER_ENV: MARKER}
    assert updated.outs is not None and updated.outs["env"] == {"B": "2"}


def test_a_new_image_is_a_replacement(provider: InstanceProvider) -> None:
    created = provider.create(checked(provider))
    assert created.outs is not None
    result = provider.diff(created.id, created.outs, checked(provider, image="pytorch/pytorch:2"))
    assert (result.replaces, result.delete_before_replace) == (["image"], True)


def test_delete_returns_once_the_instance_is_no_longer_listed(
    provider: InstanceProvider, emulator: Emulator
) -> None:
    created = provider.create(checked(provider))
    assert created.outs is not None
    mark = len(emulator.request_log())
    provider.delete(created.id, created.outs)
    assert instances(emulator) == []  # not merely being destroyed: gone
    calls = api_calls(emulator, mark)
    assert calls[0] == ("DELETE", "/api/v0/instances/{id}/")
    assert set(calls[1:]) == {("GET", "/api/v1/instances/")}  # it looked until it was unlisted
    assert len(calls) > 2  # the destroy took a while: the first look still listed it
    provider.delete(created.id, created.outs)  # already gone: fine
    assert [call for call in api_calls(emulator, mark) if call[0] == "DELETE"] == [calls[0]] * 2


def test_delete_fails_naming_an_instance_still_listed_after_the_bound_and_keeps_it(
    provider: InstanceProvider, emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    created = provider.create(checked(provider))
    assert created.outs is not None
    emulator.backend.clock = lambda: 1_800_000_000.0  # the emulator's time stands still: no destroy ends
    monkeypatch.setattr(_teardown, "DELETE_TIMEOUT", 0.5)
    with pytest.raises(NotGoneError, match=rf"instance {created.id} \(still listed after 0.5 s\)"):
        provider.delete(created.id, created.outs)
    assert [row["id"] for row in instances(emulator)] == [int(created.id)]


def test_adopt_id_manages_an_existing_instance_without_renting(
    provider: InstanceProvider, emulator: Emulator
) -> None:
    offer = search_offers(provider.client, QUERY, limit=1)[0]
    existing = int(
        provider.client.create_instance(offer.id, {"image": "pytorch/pytorch", "label": "old", "disk": 16})[
            "new_contract"
        ]
    )
    mark = len(emulator.request_log())
    created = provider.create(checked(provider, offer_query=None, adopt_id=float(existing), label="managed"))
    assert created.id == str(existing)
    assert instances(emulator)[0]["label"] == "managed"
    assert RENT not in api_calls(emulator, mark)


def test_adopting_a_20_gb_instance_needs_disk_20_and_records_it(
    provider: InstanceProvider, emulator: Emulator
) -> None:
    offer = search_offers(provider.client, QUERY, limit=1, disk=20)[0]
    existing = int(
        provider.client.create_instance(offer.id, {"image": "pytorch/pytorch", "disk": 20})["new_contract"]
    )
    mark = len(emulator.request_log())
    with pytest.raises(AdoptError) as error:
        provider.create(checked(provider, offer_query=None, adopt_id=float(existing), disk=10.0))
    assert str(error.value).startswith(
        f"adopt_id: instance {existing} has a 20 GB disk, but the disk input is 10 GB (10 when not set): "
        "set disk=20"
    )
    assert [method for method, _ in api_calls(emulator, mark)] == ["GET", "GET"]  # nothing was changed
    created = provider.create(checked(provider, offer_query=None, adopt_id=float(existing), disk=20.0))
    assert created.outs is not None and created.outs["disk"] == 20.0


def test_an_interruptible_instance_bids_its_price(provider: InstanceProvider, emulator: Emulator) -> None:
    created = provider.create(checked(provider, price=5.0))
    (row,) = instances(emulator)
    assert row["is_bid"] is True
    assert created.outs is not None and created.outs["price"] == 5.0


# -- ssh_command: the official client's rule ---------------------------------------------------------------

DIRECT = {"22/tcp": [{"HostIp": "0.0.0.0", "HostPort": "41022"}]}


@pytest.mark.parametrize(
    ("row", "command"),
    [
        # A 22/tcp mapping: the machine's own address and the mapped port, whatever the proxy says.
        (
            {"ports": DIRECT, "public_ipaddr": "203.0.113.7", "ssh_host": "ssh4.vast.ai", "ssh_port": 10001},
            "ssh -p 41022 root@203.0.113.7",
        ),
        (
            {"ports": {}, "ssh_host": "ssh4.vast.ai", "ssh_port": 10001, "image_runtype": "ssh"},
            "ssh -p 10001 root@ssh4.vast.ai",
        ),
        # A jupyter runtype's ssh is one port up on the proxy.
        (
            {
                "ports": {},
                "ssh_host": "ssh4.vast.ai",
                "ssh_port": 10001,
                "image_runtype": "jupyter_direc ssh_direc",
            },
            "ssh -p 10002 root@ssh4.vast.ai",
        ),
        (
            {"ssh_host": "ssh4.vast.ai", "ssh_port": "10001", "image_runtype": None},
            "ssh -p 10001 root@ssh4.vast.ai",
        ),
        ({"ports": {}, "ssh_host": None, "ssh_port": None}, None),
        ({"ports": {"22/tcp": []}, "public_ipaddr": "203.0.113.7"}, None),
    ],
)
def test_ssh_command_follows_the_official_clients_rule(row: Row, command: str | None) -> None:
    assert ssh_command(row) == command


def test_a_running_instance_outputs_a_working_ssh_command(
    provider: InstanceProvider, emulator: Emulator
) -> None:
    created = provider.create(checked(provider))
    (row,) = instances(emulator)
    assert created.outs is not None
    host_port = row["ports"]["22/tcp"][0]["HostPort"]
    assert created.outs["ssh_command"] == f"ssh -p {host_port} root@{row['public_ipaddr']}"
    read = provider.read(created.id, created.outs)
    assert read.outs is not None and read.outs["ssh_command"] == created.outs["ssh_command"]
    assert read.inputs is None  # a new output is no drift


# -- check: bad input fails at preview, naming the field and the rule (no API call) -----------------

CHECKED_BOX = {"offer_query": "gpu_name=RTX_4090", "image": "pytorch/pytorch"}
# (inputs, the property the failure names, words of the rule)
CHECK_FAILURES: list[tuple[dict[str, Any], str, str]] = [
    ({**CHECKED_BOX, "ssh_key_ids": [0.0]}, "ssh_key_ids", "positive whole numbers"),
    ({**CHECKED_BOX, "ssh_key_ids": [3.0, 3.0]}, "ssh_key_ids", "must not name a key twice"),
    ({**CHECKED_BOX, "volume_info": {"volume_id": 1.0, "mount_path": "data"}}, "volume_info", "absolute"),
    ({**CHECKED_BOX, "volume_info": {"mount_path": "/data"}}, "volume_info", "is required"),
    (
        {**CHECKED_BOX, "volume_info": {"volume_id": 1.0, "mount_path": "/d", "size": 5.0}},
        "volume_info",
        "create_new",
    ),
]


@pytest.mark.parametrize(("news", "field", "rule"), CHECK_FAILURES)
def test_bad_input_fails_at_check_naming_the_field_and_the_rule(
    news: dict[str, Any], field: str, rule: str
) -> None:
    assert_check_fails(InstanceProvider, news, field, rule)
