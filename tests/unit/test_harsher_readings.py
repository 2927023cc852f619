"""The audit's A rows that the provider faces (2026-12-07: K3, V2, PA1, I1, V1, PA2) and the issue's
out-of-band destroy (D1), each under the emulator reading that is harder on a client: every test here
failed on the code before the fix, for the reason its name gives."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from typing import Any

import pulumi
import pytest

from tests.unit.conftest import INSTANCE as BOX
from tests.unit.conftest import QUERY, FakeTime, api_calls, checked_news, configured
from vast_pulumi import _workers
from vast_pulumi._launch_args import MARKER_ENV as GROUP_MARKER_ENV
from vast_pulumi.client import Row, VastClient
from vast_pulumi.emulator import Emulator
from vast_pulumi.endpoint import EndpointProvider
from vast_pulumi.errors import VanishedError
from vast_pulumi.instance import InstanceProvider
from vast_pulumi.settings import ProviderSettings
from vast_pulumi.sshkey import SshKeyProvider
from vast_pulumi.volume import Volume, VolumeProvider
from vast_pulumi.workergroup import WorkergroupProvider

ED25519 = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJK9F1pSEMt/BAon67seVRFk7PHt5CVhLLud826EorlK me@laptop"
MARKER = "0123456789abcdef"

pytestmark = pytest.mark.usefixtures("quick_polls")


def started(factory: Callable[..., Emulator], **readings: str) -> Emulator:
    return factory(seed=1, boot_seconds=0.3, readings=readings)


# K3: GET /ssh/ on a keyless account answers 404 "No SSH keys found for the user."


@pytest.fixture
def keys_404(vast_emulator_factory: Callable[..., Emulator]) -> Emulator:
    return started(vast_emulator_factory, ssh_list_empty="404")


def test_k3_first_key_of_a_keyless_account_is_created_its_refresh_and_destroy_work(
    keys_404: Emulator,
) -> None:
    provider = configured(SshKeyProvider(), keys_404.url, keys_404.api_keys[0])
    checked = provider.check({}, {"public_key": ED25519, "_marker": MARKER})
    assert checked.failures == []
    created = provider.create(checked.inputs)  # the marker lookup lists the keys first: a 404
    assert created.outs is not None
    assert [k["id"] for k in keys_404.inventory()[0]["ssh_keys"]] == [int(created.id)]
    provider.delete(created.id, created.outs)  # the wait lists the keys until the last one is gone
    assert keys_404.inventory()[0]["ssh_keys"] == []
    assert provider.read(created.id, created.outs).id is None  # refresh: gone, not an error
    provider.delete(created.id, created.outs)  # a repeated destroy: fine
    assert ("GET", "/api/v0/ssh/") in api_calls(keys_404)


# V2: volume names follow ^\w{1,64}$ (docs: "alphanumeric with underscores, with a max length of 64").


@pytest.fixture
def mocked_program() -> Iterator[list[pulumi.runtime.MockResourceArgs]]:
    registered: list[pulumi.runtime.MockResourceArgs] = []

    class Mocks(pulumi.runtime.Mocks):
        def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
            registered.append(args)
            return f"{args.name}-id", dict(args.inputs)

        def call(
            self, args: pulumi.runtime.MockCallArgs
        ) -> tuple[dict[str, Any], list[tuple[str, str]] | None]:
            return {}, None

    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    pulumi.runtime.set_mocks(Mocks(), project="proj", stack="dev", preview=False)
    yield registered
    asyncio.set_event_loop(None)
    loop.close()


def _program_inputs(registered: list[pulumi.runtime.MockResourceArgs], name: str) -> dict[str, Any]:
    volume = Volume(name, size=20, offer_query="reliability>0.9")
    done: list[dict[str, Any]] = []
    pulumi.runtime.test(lambda: volume.urn.apply(lambda _: done.append(registered[-1].inputs)))()
    return {key: value for key, value in done[0].items() if value is not None}


def test_v2_a_volume_with_the_default_name_of_a_long_dotted_resource_name_is_rented(
    vast_emulator_factory: Callable[..., Emulator], mocked_program: list[pulumi.runtime.MockResourceArgs]
) -> None:
    strict = started(vast_emulator_factory, volume_name="strict")
    inputs = _program_inputs(mocked_program, "team.models-" + "x" * 80)
    provider = configured(VolumeProvider(), strict.url, strict.api_keys[0])
    checked = provider.check({}, inputs)
    assert checked.failures == []
    created = provider.create(checked.inputs)  # the API refuses a name with '-' or '.' or over 64
    assert created.outs is not None
    assert len(inputs["name"]) <= 64 and inputs["name"].endswith("_" + inputs["_marker"][:8])
    (row,) = strict.inventory()[0]["volumes"]
    assert row["label"] == inputs["name"] == created.outs["name"]


def test_v2_a_name_breaking_the_rule_fails_at_check_naming_the_field_and_rule() -> None:
    provider = VolumeProvider()
    for bad in ("my data", "x" * 65, "models-v2"):
        result = provider.check(
            {}, {"size": 20.0, "offer_query": "reliability>0.9", "name": bad, "_marker": MARKER}
        )
        assert [(f.property, f.reason) for f in result.failures] == [
            ("name", "name: must be 1 to 64 letters, digits or underscores (Vast's volume name rule)")
        ]


def test_v2_a_volume_named_before_the_rule_keeps_its_name_and_is_not_replaced() -> None:
    provider = VolumeProvider()
    base = {"size": 20.0, "offer_query": "reliability>0.9", "_marker": MARKER}
    generated_before = {**base, "name": f"team-models-{MARKER[:8]}"}  # the old default, in state
    generated_now = {**base, "name": f"team_models_{MARKER[:8]}"}  # what the program computes now
    checked = provider.check(generated_before, generated_now)
    assert checked.failures == [] and checked.inputs["name"] == f"team-models-{MARKER[:8]}"
    in_state = provider.check(generated_before, generated_before).inputs  # as an earlier up stored it
    diff = provider.diff("7", in_state, checked.inputs)
    assert (diff.changes, diff.replaces) == (False, [])
    chosen_before = {**base, "name": "my-data"}  # a user's name from before the rule: left alone
    assert provider.check(chosen_before, dict(chosen_before)).failures == []


# PA1: a workergroup's teardown and the worker rows' ties.


def _strip_ties(monkeypatch: pytest.MonkeyPatch) -> None:
    """Worker rows as the audit's "untied" reading has them: no workergroup_id/endpoint_id (only the
    emulator guarantees them). Done on the client's list (a unit-level fake of the reading)."""
    real = VastClient.list_instances

    def untied(self: VastClient, retry: Any = None) -> list[Row]:
        return [
            {k: v for k, v in row.items() if k not in ("workergroup_id", "endpoint_id")}
            for row in real(self, retry)
        ]

    monkeypatch.setattr(VastClient, "list_instances", untied)


def _group(
    emulator: Emulator, endpoint_id: int, marker: str = MARKER
) -> tuple[WorkergroupProvider, str, Any]:
    provider = configured(WorkergroupProvider(), emulator.url, emulator.api_keys[0])
    inputs = provider.check(
        {}, {"_marker": marker, "endpoint_id": float(endpoint_id), "search_params": QUERY}
    )
    created = provider.create(inputs.inputs)
    return provider, str(created.id), created.outs


def _listed(emulator: Emulator) -> list[Row]:
    rows: list[Row] = emulator.inventory()[0]["instances"]
    return rows


def _workers_of(emulator: Emulator, group_id: str) -> list[int]:
    return [int(r["id"]) for r in _listed(emulator) if r.get("workergroup_id") == int(group_id)]


@pytest.fixture
def wg_emulator(vast_emulator_factory: Callable[..., Emulator]) -> Emulator:
    return vast_emulator_factory(seed=1, boot_seconds=0.3)


def test_pa1_untied_rows_a_group_delete_spares_the_workers_of_its_successor_sharing_the_marker(
    wg_emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    _strip_ties(monkeypatch)
    client = VastClient(ProviderSettings(wg_emulator.api_keys[0], wg_emulator.url), pacing_scale=0)
    old_ep = client.create_endpoint({"endpoint_name": "old", "cold_workers": 1, "max_workers": 1})
    new_ep = client.create_endpoint({"endpoint_name": "new", "cold_workers": 1, "max_workers": 1})
    provider, old_group, outs = _group(wg_emulator, old_ep)
    _, new_group, _ = _group(wg_emulator, new_ep)  # a replacement onto another endpoint: same marker
    successors = _workers_of(wg_emulator, new_group)
    assert len(successors) == 1

    provider.delete(old_group, outs)

    assert set(successors) <= {int(r["id"]) for r in _listed(wg_emulator)}  # not destroyed


def test_pa1_untied_rows_an_endpoint_delete_spares_a_successor_groups_workers(
    wg_emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    _strip_ties(monkeypatch)
    endpoint = configured(EndpointProvider(), wg_emulator.url, wg_emulator.api_keys[0])
    made = endpoint.create(
        endpoint.check(
            {}, {"_marker": "e", "endpoint_name": "old", "cold_workers": 1.0, "max_workers": 1.0}
        ).inputs
    )
    client = VastClient(ProviderSettings(wg_emulator.api_keys[0], wg_emulator.url), pacing_scale=0)
    other_ep = client.create_endpoint({"endpoint_name": "new", "cold_workers": 1, "max_workers": 1})
    _group(wg_emulator, int(made.id))
    _, successor, _ = _group(wg_emulator, other_ep)
    kept = _workers_of(wg_emulator, successor)
    assert made.outs is not None

    endpoint.delete(made.id, made.outs)

    assert set(kept) <= {int(r["id"]) for r in _listed(wg_emulator)}


def test_pa1_a_worker_recruited_after_its_groups_delete_is_destroyed_too(
    wg_emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A rent in flight at the group's delete lands after the delete's first look at the list (the
    late recruit of the asynchronous autoscaler, here landed by the test: a unit-level fake of the
    reading ``worker_recruit=late``)."""
    client = VastClient(ProviderSettings(wg_emulator.api_keys[0], wg_emulator.url), pacing_scale=0)
    late: list[int] = []
    real_list, real_delete = VastClient.list_instances, VastClient.delete_workergroup

    def delete_workergroup(self: VastClient, workergroup_id: int) -> bool:
        gone = real_delete(self, workergroup_id)
        late.append(0)  # armed: the next look at the list sees the list, then the recruit lands
        return gone

    def list_instances(self: VastClient, retry: Any = None) -> list[Row]:
        rows = real_list(self, retry)
        if late == [0]:
            offer = client.search_offers({"limit": 1, "order": [["dph_total", "asc"]]})[0]
            body = {"image": "busybox", "env": {GROUP_MARKER_ENV: MARKER}}
            late[0] = int(client.create_instance(int(offer["id"]), body)["new_contract"])
        return rows

    monkeypatch.setattr(VastClient, "delete_workergroup", delete_workergroup)
    monkeypatch.setattr(VastClient, "list_instances", list_instances)
    monkeypatch.setenv("VAST_PULUMI_LATE_RECRUIT_SECONDS", "3")
    endpoint_id = client.create_endpoint({"endpoint_name": "ep", "cold_workers": 1, "max_workers": 1})
    provider, group_id, outs = _group(wg_emulator, endpoint_id)  # its client lists through the fake
    fake = FakeTime()  # the sweep's clock and sleeps, not the wall clock
    monkeypatch.setattr(_workers, "time", fake, raising=False)

    provider.delete(group_id, outs)

    assert late[0] > 0
    assert late[0] not in {int(r["id"]) for r in _listed(wg_emulator)}  # not left billing
    assert fake.slept  # it looked again after the delete


# Instances: I1 (the bid field), V1 (a local volume's machine), PA2 (create_new), and an instance
# destroyed out of band (D1: refresh while it is being destroyed; an update that meets its 404).

INSTANCE = {**BOX, "_marker": "feedfacecafebeef"}


def _instances(emulator: Emulator) -> InstanceProvider:
    return configured(InstanceProvider(), emulator.url, emulator.api_keys[0])


def _checked(provider: InstanceProvider, **changes: Any) -> dict[str, Any]:
    return checked_news(provider, {**INSTANCE, **changes})


def test_i1_an_interruptible_whose_row_shows_the_listing_price_is_kept_not_destroyed(
    vast_emulator_factory: Callable[..., Emulator], caplog: pytest.LogCaptureFixture
) -> None:
    listing = started(vast_emulator_factory, bid_field="listing")
    provider = _instances(listing)
    cheapest = provider.client.search_offers(
        {"gpu_name": {"eq": "RTX 4090"}, "num_gpus": {"eq": 1}, "type": "bid", "order": [["min_bid", "asc"]]}
    )[0]
    price = round(cheapest["min_bid"] + 0.05, 4)
    assert price != cheapest["dph_base"]
    created = provider.create(_checked(provider, price=price))  # the row's search price is dph_base
    (row,) = listing.inventory()[0]["instances"]
    assert (str(row["id"]), row["is_bid"]) == (created.id, True)
    assert "may be the listing's price" in caplog.text


def test_v1_an_instance_linking_a_local_volume_rents_on_the_volumes_machine(
    vast_emulator_factory: Callable[..., Emulator],
) -> None:
    same_machine = started(vast_emulator_factory, volume_machine="same_machine")
    provider = _instances(same_machine)
    gpus = provider.client.search_offers(
        {"gpu_name": {"eq": "RTX 4090"}, "num_gpus": {"eq": 1}, "limit": 500}
    )
    machines = {o["machine_id"] for o in gpus}
    cheapest_machine = min(gpus, key=lambda o: o["dph_total"])["machine_id"]
    offer = next(
        o
        for o in provider.client.search_volume_offers({"limit": 64})
        if o["machine_id"] in machines and o["machine_id"] != cheapest_machine
    )
    volume_id = provider.client.create_volume(int(offer["id"]), 20, "data")
    link = {"volume_id": float(volume_id), "mount_path": "/data"}
    created = provider.create(_checked(provider, volume_info=link))  # not the cheapest 4090: the volume's
    assert created.outs is not None and created.outs["machine_id"] == offer["machine_id"]


def test_pa2_create_new_is_refused_at_check_pointing_to_volume_and_old_state_still_parses() -> None:
    provider = InstanceProvider()
    info = {"volume_id": 5.0, "mount_path": "/data", "create_new": True, "size": 20.0}
    failures = provider.check({}, {**INSTANCE, "volume_info": info}).failures
    assert len(failures) == 1 and "Volume resource" in failures[0].reason
    assert failures[0].reason.startswith("volume_info: create_new=True is not supported")
    state = {**INSTANCE, "volume_info": {**info, "volume_id": 5}}  # written by an earlier version
    assert provider.parse(state).volume_info is not None  # so refresh and destroy still work


@pytest.mark.parametrize("reading", ["row", "gone"])
def test_d1_refresh_of_an_instance_being_destroyed_out_of_band_drops_it(
    vast_emulator_factory: Callable[..., Emulator], reading: str
) -> None:
    emulator = vast_emulator_factory(
        seed=1, boot_seconds=0.3, destroy_seconds=600.0, readings={"destroying_get": reading}
    )
    provider = _instances(emulator)
    created = provider.create(_checked(provider))
    assert created.outs is not None
    # By hand (the provider's own client, so that its list snapshot is not older than the destroy, as
    # in the fresh process of a `pulumi refresh`): the list shows it, being destroyed, for 10 minutes.
    provider.client.destroy_instance(int(created.id))
    assert [r["id"] for r in emulator.inventory()[0]["instances"]] == [int(created.id)]

    assert provider.read(created.id, created.outs).id is None  # gone from the stack


def test_d1_an_update_of_an_instance_destroyed_out_of_band_says_so_and_the_next_diff_replaces(
    vast_emulator_factory: Callable[..., Emulator],
) -> None:
    emulator = vast_emulator_factory(seed=1, boot_seconds=0.3, destroy_seconds=600.0, profile="pessimistic")
    provider = _instances(emulator)
    created = provider.create(_checked(provider))
    assert created.outs is not None
    relabel = _checked(provider, label="renamed")
    assert provider.diff(created.id, created.outs, relabel).replaces == []  # live: an update
    provider.client.destroy_instance(int(created.id))  # by hand

    with pytest.raises(VanishedError, match=rf"instance {created.id} no longer exists on Vast.ai .*404"):
        provider.update(created.id, created.outs, relabel)
    diff = provider.diff(created.id, created.outs, relabel)
    assert (diff.changes, diff.replaces) == (True, ["label"])  # the next up rents a replacement


def test_i1_a_refresh_under_the_listing_reading_shows_no_bid_drift(
    vast_emulator_factory: Callable[..., Emulator],
) -> None:
    """The row's search price is the listing's there: it is not read back as the bid (which would be
    drift on every refresh, and the same bid sent again on every up)."""
    listing = started(vast_emulator_factory, bid_field="listing")
    provider = _instances(listing)
    offer = provider.client.search_offers(
        {"gpu_name": {"eq": "RTX 4090"}, "num_gpus": {"eq": 1}, "type": "bid", "order": [["min_bid", "asc"]]}
    )[0]
    created = provider.create(_checked(provider, price=round(offer["min_bid"] + 0.05, 4)))
    assert created.outs is not None
    read = provider.read(created.id, created.outs)
    assert read.inputs is None and read.outs is not None and read.outs["price"] == created.outs["price"]
